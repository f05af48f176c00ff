//! Pages behind HTTP logins, as intranet systems often sit behind the web server's
//! own password prompt: `/lab/http-basic` (Basic) and `/lab/http-digest` (Digest,
//! RFC 2617 with `qop=auth`), user `budi`, password `rahasia`.

use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;

use super::pages::{esc, layout};
use super::Shared;

/// The user and password the lab's HTTP logins accept.
pub const HTTP_USER: &str = "budi";
pub const HTTP_PASSWORD: &str = "rahasia";
const REALM: &str = "Intranet BKD";
const NONCE: &str = "7c3d1f0e9a8b4c2d";

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/lab/http-basic", get(basic))
        .route("/lab/http-digest", get(digest))
}

fn welcome(kind: &str) -> Response {
    Html(layout(
        "Intranet",
        None,
        &format!(
            "<h2>Intranet BKD</h2><p id=\"sambutan\">Selamat datang, {} ({kind})</p>",
            esc(HTTP_USER)
        ),
        "",
    ))
    .into_response()
}

fn refused(challenge: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, challenge)],
        Html("<html><head><title>401 Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>".to_string()),
    )
        .into_response()
}

async fn basic(headers: HeaderMap) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{HTTP_USER}:{HTTP_PASSWORD}"))
    );
    match headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(given) if given == expected => welcome("Basic"),
        _ => refused(format!("Basic realm=\"{REALM}\"")),
    }
}

async fn digest(headers: HeaderMap) -> Response {
    let challenge = format!("Digest realm=\"{REALM}\", qop=\"auth\", nonce=\"{NONCE}\"");
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Digest "))
    else {
        return refused(challenge);
    };
    let field = |name: &str| -> String {
        given
            .split(',')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let ha1 = md5_hex(format!("{HTTP_USER}:{REALM}:{HTTP_PASSWORD}").as_bytes());
    let ha2 = md5_hex(format!("GET:{}", field("uri")).as_bytes());
    let expected = md5_hex(
        format!(
            "{ha1}:{NONCE}:{}:{}:auth:{ha2}",
            field("nc"),
            field("cnonce")
        )
        .as_bytes(),
    );
    if field("username") == HTTP_USER && field("nonce") == NONCE && field("response") == expected {
        welcome("Digest")
    } else {
        refused(challenge)
    }
}

/// MD5 (RFC 1321) as lower-case hex: all Digest logins need.
fn md5_hex(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    [a0, b0, c0, d0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::md5_hex;

    #[test]
    fn md5_matches_the_rfc_examples() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }
}
