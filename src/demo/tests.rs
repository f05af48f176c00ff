//! Tests of the demo portal over raw HTTP/1.1 (no HTTP client crate needed).

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends one request (Connection: close) and reads the whole response.
async fn http(
    portal: &Portal,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let mut stream = TcpStream::connect(portal.addr()).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        portal.addr()
    );
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or_default());
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect::<Vec<_>>();
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")),
        "chunked bodies not supported by the test helper"
    );
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

async fn start() -> Portal {
    Portal::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("portal starts")
}

/// Logs in and returns the `PHPSESSID=...` cookie pair.
async fn login(portal: &Portal) -> String {
    let body = form_body(&[("user", DEMO_USER), ("pass", DEMO_PASSWORD)]);
    let r = http(portal, "POST", "/login", None, Some(&body)).await;
    assert_eq!(r.status, 303);
    let set = r.header("set-cookie").expect("cookie set");
    set.split(';').next().expect("pair").trim().to_string()
}

fn valid_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("nik", " 3326014507900003 "),
        ("nama", "Siti Rahmawati"),
        ("jenis", "SIUP"),
        ("skala", "Kecil"),
        ("tanggal", "05/01/2024"),
        ("alamat", "Jl. Pemuda No. 7, Desa Sukamaju"),
        ("telepon", "081234567890"),
    ]
}

#[tokio::test]
async fn root_and_pages_without_session_redirect_to_login() {
    let portal = start().await;
    assert!(portal.url().starts_with("http://127.0.0.1:"));
    assert!(!portal.url().ends_with('/'));
    for path in [
        "/",
        "/menu",
        "/permohonan/baru",
        "/permohonan",
        "/permohonan/hasil?id=1",
        "/apa",
    ] {
        let r = http(&portal, "GET", path, None, None).await;
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/login"), "{path}");
    }
    let r = http(&portal, "GET", "/menu", Some("PHPSESSID=palsu"), None).await;
    assert_eq!(r.header("location"), Some("/login"));
    let body = form_body(&valid_form());
    let r = http(&portal, "POST", "/permohonan", None, Some(&body)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    assert!(portal.records().is_empty());
    portal.stop().await;
}

#[tokio::test]
async fn login_page_and_wrong_password() {
    let portal = start().await;
    let r = http(&portal, "GET", "/login", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r
        .body
        .contains(r#"<input type="text" id="user" name="user""#));
    assert!(r
        .body
        .contains(r#"<input type="password" id="pass" name="pass""#));
    assert!(r.body.contains(r#"value="Masuk""#));
    assert!(!r.body.contains("pesan-error\">"));

    let body = form_body(&[("user", "petugas"), ("pass", "salah")]);
    let r = http(&portal, "POST", "/login", None, Some(&body)).await;
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").is_none());
    assert!(r
        .body
        .contains(r#"<div class="pesan-error">Nama pengguna atau kata sandi salah.</div>"#));
    portal.stop().await;
}

#[tokio::test]
async fn login_sets_cookie_menu_and_logout() {
    let portal = start().await;
    let body = form_body(&[("user", DEMO_USER), ("pass", DEMO_PASSWORD)]);
    let r = http(&portal, "POST", "/login", None, Some(&body)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/menu"));
    let set = r.header("set-cookie").expect("cookie").to_string();
    assert!(set.starts_with("PHPSESSID="), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("Path=/"), "{set}");
    let cookie = set.split(';').next().expect("pair").to_string();
    assert!(cookie.len() > "PHPSESSID=".len() + 16);
    // A second login gets another id.
    assert_ne!(login(&portal).await, cookie);

    let r = http(&portal, "GET", "/menu", Some(&cookie), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Selamat datang, petugas"));
    assert!(r
        .body
        .contains(r#"<a href="/permohonan/baru">Permohonan Baru</a>"#));
    assert!(r
        .body
        .contains(r#"<a href="/permohonan">Daftar Permohonan</a>"#));
    assert!(r.body.contains(r#"<a href="/logout">Keluar</a>"#));

    let r = http(&portal, "GET", "/permohonan/baru", Some(&cookie), None).await;
    assert_eq!(r.status, 200);
    for needle in [
        r#"<form name="frm" id="frm" method="post" action="/permohonan">"#,
        r#"id="nik" name="nik""#,
        r#"id="nama" name="nama""#,
        r#"<select id="jenis" name="jenis"><option value="">-- Pilih --</option>"#,
        ">Izin Usaha Mikro Kecil</option>",
        ">Surat Izin Usaha Perdagangan</option>",
        ">Izin Usaha Industri</option>",
        ">Tanda Daftar Gudang</option>",
        r#"<input type="hidden" id="tanggal" name="tanggal""#,
        r#"id="tanggal-tampil""#,
        r#"readonly="readonly""#,
        r#"name="skala" id="skala-mikro" value="Mikro""#,
        r#"name="skala" id="skala-kecil" value="Kecil""#,
        r#"name="skala" id="skala-menengah" value="Menengah""#,
        r#"<textarea id="alamat" name="alamat""#,
        r#"id="telepon" name="telepon""#,
        r#"id="simpan" value="Simpan" disabled="disabled" onclick="if (confirm('Simpan permohonan ini?')) { document.frm.submit(); }""#,
        r#"onchange="cekNik()""#,
    ] {
        assert!(r.body.contains(needle), "missing {needle}");
    }
    assert!(!r.body.contains("<label"));

    let r = http(&portal, "GET", "/logout", Some(&cookie), None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    let r = http(&portal, "GET", "/menu", Some(&cookie), None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    portal.stop().await;
}

#[tokio::test]
async fn valid_post_stores_and_shows_result() {
    let portal = start().await;
    let cookie = login(&portal).await;
    let body = form_body(&valid_form());
    let r = http(&portal, "POST", "/permohonan", Some(&cookie), Some(&body)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/permohonan/hasil?id=1"));

    let records = portal.records();
    assert_eq!(records.len(), 1);
    let rec = &records[0];
    assert_eq!(rec.no_reg, "503/IZN/00001/2024");
    assert_eq!(rec.nik, "3326014507900003");
    assert_eq!(rec.nama, "Siti Rahmawati");
    assert_eq!(rec.jenis_izin, "Surat Izin Usaha Perdagangan");
    assert_eq!(rec.skala, "Kecil");
    assert_eq!(
        rec.tanggal,
        chrono::NaiveDate::from_ymd_opt(2024, 1, 5).expect("date")
    );
    assert_eq!(rec.telepon, "081234567890");
    let json = serde_json::to_value(rec).expect("json");
    assert_eq!(json["tanggal"], "2024-01-05");

    let r = http(
        &portal,
        "GET",
        "/permohonan/hasil?id=1",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Permohonan berhasil disimpan."));
    assert!(r
        .body
        .contains(r#"<iframe name="detail" id="detail" src="/permohonan/detail?id=1""#));
    assert!(r.body.contains(r#"<a href="/menu">"#));
    let d = http(
        &portal,
        "GET",
        "/permohonan/detail?id=1",
        Some(&cookie),
        None,
    )
    .await;
    assert!(d
        .body
        .contains(r#"<td id="no-reg">503/IZN/00001/2024</td>"#));
    assert!(r
        .body
        .contains(r#"<a href="/permohonan/baru">Permohonan Baru</a>"#));
    let r = http(
        &portal,
        "GET",
        "/permohonan/hasil?id=2",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = http(
        &portal,
        "GET",
        "/permohonan/hasil?id=x",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(r.status, 404);

    // A second one (different jenis, chosen by visible text) gets the next number.
    let mut second = valid_form();
    second[2] = ("jenis", "Tanda Daftar Gudang");
    second[4] = ("tanggal", "1/2/2025");
    let body = form_body(&second);
    let r = http(&portal, "POST", "/permohonan", Some(&cookie), Some(&body)).await;
    assert_eq!(r.header("location"), Some("/permohonan/hasil?id=2"));
    assert_eq!(portal.records()[1].no_reg, "503/IZN/00002/2025");

    // The list, with and without filter.
    let r = http(&portal, "GET", "/permohonan", Some(&cookie), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#"<table class="data" id="daftar""#));
    assert!(r.body.contains("<tr><th>No. Registrasi</th><th>NIK</th><th>Nama Pemohon</th><th>Jenis Izin</th><th>Skala</th><th>Tanggal Pengajuan</th></tr>"));
    assert!(r.body.contains("<td>503/IZN/00001/2024</td>"));
    assert!(r.body.contains("<td>503/IZN/00002/2025</td>"));
    let r = http(&portal, "GET", "/permohonan?nik=1111", Some(&cookie), None).await;
    assert!(!r.body.contains("503/IZN/"));
    let r = http(
        &portal,
        "GET",
        "/permohonan?nik=3326014507900003",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(r.body.matches("503/IZN/").count(), 2);

    // Another portal is independent and numbers from 00001 again.
    let other = start().await;
    let c2 = login(&other).await;
    let r = http(&other, "POST", "/permohonan", Some(&c2), Some(&body)).await;
    assert_eq!(r.header("location"), Some("/permohonan/hasil?id=1"));
    assert_eq!(other.records()[0].no_reg, "503/IZN/00001/2025");
    assert_eq!(portal.records().len(), 2);
    // The session of one portal is unknown to the other.
    let r = http(&other, "GET", "/menu", Some(&cookie), None).await;
    assert_eq!(r.status, 303);
    other.stop().await;
    portal.stop().await;
}

#[tokio::test]
async fn refused_post_shows_message_keeps_values_and_stores_nothing() {
    let portal = start().await;
    let cookie = login(&portal).await;

    let mut form = valid_form();
    form[0] = ("nik", "20260145079000");
    form[1] = ("nama", "Ani <b>\"Tes\"</b> & Co");
    let body = form_body(&form);
    let r = http(&portal, "POST", "/permohonan", Some(&cookie), Some(&body)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(
        r#"<div class="pesan-error" style="color:red">NIK harus terdiri dari 16 digit angka.</div>"#
    ));
    assert!(r.body.contains(r#"value="20260145079000""#));
    assert!(r
        .body
        .contains(r#"value="Ani &lt;b&gt;&quot;Tes&quot;&lt;/b&gt; &amp; Co""#));
    assert!(!r.body.contains("<b>\"Tes\""));
    assert!(r.body.contains(r#"<option value="SIUP" selected>"#));
    assert!(r
        .body
        .contains(r#"id="skala-kecil" value="Kecil" checked>"#));
    assert!(r
        .body
        .contains(">Jl. Pemuda No. 7, Desa Sukamaju</textarea>"));
    assert!(portal.records().is_empty());

    // Industri + Mikro.
    let mut form = valid_form();
    form[2] = ("jenis", "IUI");
    form[3] = ("skala", "Mikro");
    let r = http(
        &portal,
        "POST",
        "/permohonan",
        Some(&cookie),
        Some(&form_body(&form)),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r
        .body
        .contains("Izin Usaha Industri tidak dapat diajukan untuk usaha skala Mikro."));

    // Future date.
    let mut form = valid_form();
    form[4] = ("tanggal", "01/01/2099");
    let r = http(
        &portal,
        "POST",
        "/permohonan",
        Some(&cookie),
        Some(&form_body(&form)),
    )
    .await;
    assert!(r
        .body
        .contains("Tanggal pengajuan tidak boleh melewati hari ini."));

    // Missing fields altogether.
    let r = http(&portal, "POST", "/permohonan", Some(&cookie), Some("")).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Nama pemohon wajib diisi."));
    assert!(portal.records().is_empty());

    // Duplicate after one success.
    let body = form_body(&valid_form());
    let r = http(&portal, "POST", "/permohonan", Some(&cookie), Some(&body)).await;
    assert_eq!(r.status, 303);
    let r = http(&portal, "POST", "/permohonan", Some(&cookie), Some(&body)).await;
    assert_eq!(r.status, 200);
    assert!(r
        .body
        .contains("Permohonan dengan NIK dan jenis izin yang sama sudah terdaftar."));
    assert_eq!(portal.records().len(), 1);
    portal.stop().await;
}

#[tokio::test]
async fn stop_releases_the_port() {
    let portal = start().await;
    let addr = portal.addr();
    let cookie = login(&portal).await;
    let _ = cookie;
    portal.stop().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn stop_does_not_hang_on_idle_keep_alive_connection() {
    let portal = start().await;
    let mut stream = TcpStream::connect(portal.addr()).await.expect("connect");
    let req = format!("GET /login HTTP/1.1\r\nHost: {}\r\n\r\n", portal.addr());
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // The connection stays open (keep-alive) while the portal stops.
    let started = std::time::Instant::now();
    portal.stop().await;
    assert!(started.elapsed() < Duration::from_secs(4));
}
