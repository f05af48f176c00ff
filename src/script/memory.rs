//! How much memory a script holds: juru's global allocator counts, per thread, the
//! bytes allocated and not yet freed. A script runs on one thread, so what that count
//! grew by since a call began is (nearly) what the script holds; the host stops a
//! call that goes past [`super::MAX_MEMORY_BYTES`].
//!
//! Rhai bounds each string, array and map it checks, but not everything a script can
//! build (a map grown one key at a time is only checked when it is passed on); this
//! count is the bound on the whole. It is approximate: memory allocated on the
//! script's thread and freed on another (or the other way round, e.g. a browser
//! command and its answer) moves it a little.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting live bytes per thread.
pub struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn add(bytes: i64) {
    // `try_with`: nothing to count while the thread is being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(bytes)));
}

// SAFETY: every call is passed straight to the system allocator; counting touches
// only a thread-local integer (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` hold for `System` too.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is checked by the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated on this thread and not freed (on it) since it started.
pub fn live_bytes() -> i64 {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::live_bytes;

    #[test]
    fn counts_what_this_thread_holds() {
        let before = live_bytes();
        let big = vec![7u8; 10 << 20];
        let held = live_bytes() - before;
        assert!((10 << 20..11 << 20).contains(&held), "{held}");
        drop(big);
        assert!((live_bytes() - before).abs() < 1 << 20);
    }
}
