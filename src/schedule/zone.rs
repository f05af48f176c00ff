//! Mapping a wall-clock time of a zone to the one instant a schedule fires at.
//!
//! Daylight saving makes some wall-clock times impossible (the spring-forward gap)
//! and others happen twice (the fall-back overlap). juru's rule: a time in a gap
//! fires at the first instant after the gap (02:30 on the spring-forward day fires
//! at 03:00); a time in an overlap fires at its first occurrence only.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant `wall` names in `zone`, by the rule above.
pub fn instant_of(zone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => gap_end(zone, wall),
    }
}

/// The first instant after the gap that holds `wall`: the moment the offset changed.
/// Offsets lie within -12 h and +14 h, so that moment is within 15 h of `wall` read
/// as UTC; a binary search over seconds finds it.
fn gap_end(zone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let offset = |ts: i64| {
        DateTime::from_timestamp(ts, 0).map(|t| zone.offset_from_utc_datetime(&t.naive_utc()).fix())
    };
    let w = wall.and_utc().timestamp();
    let (mut lo, mut hi) = (w - 15 * 3600, w + 15 * 3600);
    let before = offset(lo);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset(mid) == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or_default()
}
