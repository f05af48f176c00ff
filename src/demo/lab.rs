//! The portal's "lab": pages with the quirks of systems built for Internet
//! Explorer in the 2000s, one per page, for trying bots by hand and for the
//! browser tests. Listed at `/lab`. They need no login.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::pages::{esc, layout};
use super::{field, lock, Shared};

mod form;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/lab", get(index))
        .route("/lab/formulir", get(form::page))
        .route("/lab/jendela", get(form::window))
        .route("/lab/lambat", get(slow))
        .route("/lab/rusak", get(broken))
        .route("/lab/arsip", get(archive).post(archive_save))
        .route("/lab/unggah", get(upload_page).post(upload_save))
        .route("/lab/ekspor", get(export_page))
        .route("/lab/ekspor.csv", get(export_csv))
        .route("/lab/tabel", get(table))
        .route("/lab/dialog", get(dialogs))
        .route("/lab/jawab", get(answer))
        .route("/lab/basi", get(stale))
        .route("/lab/klik", get(click))
        .route("/lab/kedaluwarsa", get(expire))
        .route("/lab/kadang", get(sometimes))
        .route("/lab/pintu", get(doors))
        .route("/lab/alihkan", get(redirect))
        .route("/lab/tutup", get(close_logins))
        .route("/lab/baca", get(reading))
        .route("/lab/alat", get(tools))
        .route("/lab/bingkai-isi", get(frame_content))
        .route("/lab/nip", get(nip_page))
        .route("/lab/nip/cari", get(nip_lookup))
        .route("/lab/sembulan", get(popup))
}

async fn index() -> Html<String> {
    let body = r#"<h2>Lab: halaman-halaman sulit</h2>
<table class="data" cellspacing="0">
<tr><th>Halaman</th><th>Keanehan</th></tr>
<tr><td><a href="/utama">/utama</a></td><td>frameset: menu kiri dan bingkai utama</td></tr>
<tr><td><a href="/lab/formulir">/lab/formulir</a></td><td>formulir berlabel, pilihan, kalender, jendela bantuan (untuk juru inspect)</td></tr>
<tr><td><a href="/lab/lambat?detik=5">/lab/lambat</a></td><td>halaman yang dimuat 5 detik</td></tr>
<tr><td><a href="/lab/rusak">/lab/rusak</a></td><td>halaman galat 500 ala Apache</td></tr>
<tr><td><a href="/lab/arsip">/lab/arsip</a></td><td>halaman windows-1252 (José, Dédé)</td></tr>
<tr><td><a href="/lab/unggah">/lab/unggah</a></td><td>unggah berkas</td></tr>
<tr><td><a href="/lab/ekspor">/lab/ekspor</a></td><td>unduhan CSV (Content-Disposition: attachment)</td></tr>
<tr><td><a href="/lab/tabel">/lab/tabel</a></td><td>tabel dengan halaman berikutnya</td></tr>
<tr><td><a href="/lab/dialog">/lab/dialog</a></td><td>alert, confirm, prompt; ?kejutan=1 untuk alert saat dimuat</td></tr>
<tr><td><a href="/lab/basi">/lab/basi</a></td><td>tombol yang digambar ulang saat halaman digulung</td></tr>
<tr><td><a href="/lab/kedaluwarsa">/lab/kedaluwarsa</a></td><td>mengakhiri semua sesi (seperti batas waktu diam)</td></tr>
<tr><td><a href="/lab/pintu">/lab/pintu</a></td><td>tautan, jendela, bingkai dan pengalihan ke berkas lokal (file:), data: dan host lain</td></tr>
<tr><td><a href="/lab/tutup?kali=2">/lab/tutup?kali=N&amp;kunci=K</a></td><td>N login berikutnya gagal dengan galat 500 (sekali per kunci)</td></tr>
<tr><td><a href="/lab/alihkan?ke=/lab">/lab/alihkan?ke=URL</a></td><td>pengalihan 302 ke alamat apa saja</td></tr>
<tr><td><a href="/lab/baca">/lab/baca</a></td><td>pesan tersembunyi, &amp;nbsp;, paragraf, isian nonaktif/baca-saja/tersembunyi, pilihan</td></tr>
<tr><td><a href="/lab/alat">/lab/alat</a></td><td>bingkai tanpa nama, pilihan ganda, tombol papan ketik, judul yang berubah, jendela, galat setelah klik</td></tr>
<tr><td><a href="/lab/nip">/lab/nip</a></td><td>pencarian NIP saat isian ditinggalkan (blur), setelah jendela sembulan ditutup</td></tr>
</table>"#;
    Html(layout("Lab", None, body, ""))
}

async fn slow(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let secs = field(&q, "detik").parse::<u64>().unwrap_or(5).min(30);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    Html(layout(
        "Halaman Lambat",
        None,
        &format!("<h2>Halaman Lambat</h2><div id=\"selesai\">Halaman selesai dimuat setelah {secs} detik.</div>"),
        "",
    ))
}

async fn broken() -> Response {
    let body = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>500 Internal Server Error</title>\n</head><body>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n<hr>\n<address>Apache/2.2.15 (CentOS) Server at perizinan.contoh.go.id Port 80</address>\n</body></html>\n";
    (StatusCode::INTERNAL_SERVER_ERROR, Html(body.to_string())).into_response()
}

// ---- windows-1252 -------------------------------------------------------------------

/// Windows-1252's characters for the bytes 0x80–0x9F (others there are unused).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn decode_1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        })
        .collect()
}

fn encode_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c as u32 {
            0..=0x7f | 0xa0..=0xff => c as u32 as u8,
            _ => CP1252_HIGH
                .iter()
                .position(|&h| h == c)
                .map_or(b'?', |i| 0x80 + i as u8),
        })
        .collect()
}

/// Decodes an `application/x-www-form-urlencoded` body sent from a windows-1252 page.
fn form_1252(body: &[u8]) -> HashMap<String, String> {
    let unescape = |part: &[u8]| -> String {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < part.len() => {
                    let hex = std::str::from_utf8(&part[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        decode_1252(&out)
    };
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut kv = pair.splitn(2, |&b| b == b'=');
            let k = unescape(kv.next().unwrap_or_default());
            let v = unescape(kv.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

async fn archive(State(state): State<Shared>) -> Response {
    let names = lock(&state).archive.clone();
    let mut rows = String::new();
    for (i, n) in ["José Dédé", "Françoise Œuvre"]
        .iter()
        .map(|s| s.to_string())
        .chain(names)
        .enumerate()
    {
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td class=\"nama\">{}</td></tr>",
            i + 1,
            esc(&n)
        );
    }
    let page = format!(
        r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><title>Arsip Pemohon Lama</title></head>
<body style="font-family: Verdana; font-size: 11px">
<h2>Arsip Pemohon (sistem lama, windows-1252)</h2>
<table border="1" cellspacing="0" cellpadding="3" id="arsip"><tr><th>No</th><th>Nama</th></tr>
{rows}</table>
<form method="post" action="/lab/arsip">Nama: <input type="text" id="nama" name="nama" size="30"> <input type="submit" id="simpan" value="Simpan"></form>
</body></html>
"#
    );
    (
        [(CONTENT_TYPE, "text/html; charset=windows-1252")],
        encode_1252(&page),
    )
        .into_response()
}

async fn archive_save(State(state): State<Shared>, body: Bytes) -> Response {
    let form = form_1252(&body);
    let name = field(&form, "nama");
    if !name.is_empty() {
        lock(&state).archive.push(name);
    }
    Redirect::to("/lab/arsip").into_response()
}

// ---- upload -----------------------------------------------------------------------

/// `?banyak=1`: a field that takes several files.
async fn upload_page(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let multiple = if field(&q, "banyak") == "1" {
        " multiple"
    } else {
        ""
    };
    Html(layout(
        "Unggah Berkas",
        None,
        &format!(
            r#"<h2>Unggah Lampiran</h2>
<form method="post" action="/lab/unggah" enctype="multipart/form-data">
Berkas: <input type="file" id="berkas" name="berkas"{multiple}> <input type="submit" class="tombol" id="kirim" value="Kirim">
</form>"#
        ),
        "",
    ))
}

/// The first file part of a multipart/form-data body: (file name, contents).
#[cfg(test)]
fn multipart_file(content_type: &str, body: &[u8]) -> Option<(String, Vec<u8>)> {
    multipart_files(content_type, body).into_iter().next()
}

/// The file parts of a multipart/form-data body: (file name, contents), in order.
fn multipart_files(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return files;
    };
    let boundary = boundary.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(pos) = find(rest, d) {
        rest = &rest[pos + d.len()..];
        if let Some(end) = find(rest, d) {
            parts.push(&rest[..end]);
        }
    }
    for part in parts {
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let Some(name) = head
            .split("filename=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            continue;
        };
        let mut data = &part[split + 4..];
        if data.ends_with(b"\r\n") {
            data = &data[..data.len() - 2];
        }
        files.push((name.to_string(), data.to_vec()));
    }
    files
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn upload_save(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let files: Vec<(String, Vec<u8>)> = multipart_files(ct, &body)
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .collect();
    if files.is_empty() {
        return Html(layout(
            "Unggah Berkas",
            None,
            "<h2>Unggah Lampiran</h2><div class=\"pesan-error\">Tidak ada berkas yang dikirim.</div>",
            "",
        ))
        .into_response();
    }
    let mut list = String::new();
    for (name, data) in &files {
        let _ = write!(
            list,
            "<li><span class=\"nama-berkas\">{}</span> (<span class=\"ukuran\">{}</span> byte)</li>",
            esc(name),
            data.len()
        );
    }
    let (first, size) = (files[0].0.clone(), files[0].1.len());
    lock(&state).uploads.extend(files);
    Html(layout(
        "Unggah Berkas",
        None,
        &format!("<h2>Unggah Lampiran</h2><div class=\"pesan-sukses\">Berkas diterima: <span id=\"nama-berkas\">{}</span> (<span id=\"ukuran\">{size}</span> byte)</div><ul id=\"berkas-diterima\">{list}</ul>", esc(&first)),
        "",
    ))
    .into_response()
}

// ---- download ---------------------------------------------------------------------

async fn export_page() -> Html<String> {
    Html(layout(
        "Ekspor",
        None,
        r#"<h2>Ekspor Data Permohonan</h2>
<p><input type="button" class="tombol" id="unduh" value="Ekspor CSV" onclick="location.href='/lab/ekspor.csv'"></p>"#,
        "",
    ))
}

async fn export_csv(State(state): State<Shared>) -> Response {
    let mut csv = String::from("No. Registrasi;NIK;Nama Pemohon;Jenis Izin\r\n");
    for r in lock(&state).records.iter() {
        let _ = write!(
            csv,
            "{};{};{};{}\r\n",
            r.no_reg, r.nik, r.nama, r.jenis_izin
        );
    }
    // A slow export: the file arrives in pieces.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let bytes = csv.into_bytes();
    tokio::spawn(async move {
        for chunk in bytes.chunks(64) {
            if tx.send(Ok(chunk.to_vec())).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"daftar-permohonan.csv\"",
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

// ---- pagination -------------------------------------------------------------------

/// 23 residents, 10 a page.
pub(crate) fn residents() -> Vec<(String, String, String)> {
    let names = [
        "Ahmad", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Gilang", "Hendra", "Indah", "Joko",
        "Kartika", "Lestari", "Made", "Nur", "Oki", "Putri", "Rina", "Slamet", "Taufik", "Umi",
        "Wahyu", "Yuni", "Zainal",
    ];
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.to_string(),
                format!("33260{:011}", 1000 + i),
                ["Sukamaju", "Wonorejo", "Kedungjati"][i % 3].to_string(),
            )
        })
        .collect()
}

async fn table(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let all = residents();
    let pages = all.len().div_ceil(10);
    let page = field(&q, "hal")
        .parse::<usize>()
        .unwrap_or(1)
        .clamp(1, pages);
    let mut body = format!(
        "<h2>Data Penduduk (halaman {page} dari {pages})</h2>\n<table class=\"data\" id=\"penduduk\" cellspacing=\"0\">\n<tr><th>Nama</th><th>NIK</th><th>Desa</th></tr>\n"
    );
    for (nama, nik, desa) in all.iter().skip((page - 1) * 10).take(10) {
        let _ = writeln!(
            body,
            "<tr><td>{nama}</td><td>{nik}</td><td>{desa}</td></tr>"
        );
    }
    body.push_str("</table>\n<p>");
    if page > 1 {
        let _ = write!(
            body,
            "<a href=\"/lab/tabel?hal={}\">&laquo; Sebelumnya</a> ",
            page - 1
        );
    }
    if page < pages {
        let _ = write!(
            body,
            "<a id=\"berikutnya\" href=\"/lab/tabel?hal={}\">Berikutnya &raquo;</a>",
            page + 1
        );
    }
    body.push_str("</p>");
    Html(layout("Data Penduduk", None, &body, ""))
}

// ---- dialogs ----------------------------------------------------------------------

async fn dialogs(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let surprise = if field(&q, "kejutan") == "1" {
        "alert('Pengumuman: sistem akan dihentikan pukul 16.00 untuk pemeliharaan.');"
    } else {
        ""
    };
    let body = r#"<h2>Dialog</h2>
<p><input type="text" id="catatan" size="30"></p>
<p>
<input type="button" class="tombol" id="tombol-alert" value="Kirim" onclick="alert('Data berhasil dikirim'); catat('alert');">
<input type="button" class="tombol" id="tombol-konfirmasi" value="Hapus" onclick="catat(confirm('Hapus data ini?') ? 'ya' : 'tidak');">
<input type="button" class="tombol" id="tombol-prompt" value="Tolak" onclick="var a = prompt('Alasan penolakan:', ''); catat(a === null ? '(batal)' : a);">
</p>
<div id="hasil"></div>
<script type="text/javascript">
function catat(isi) {
  var x = new XMLHttpRequest();
  x.open("GET", "/lab/jawab?isi=" + encodeURIComponent(isi), true);
  x.onreadystatechange = function () { if (x.readyState === 4) document.getElementById("hasil").innerHTML = "Tercatat: " + isi; };
  x.send(null);
}
</script>"#;
    Html(layout("Dialog", None, body, surprise))
}

async fn answer(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> &'static str {
    lock(&state).answers.push(field(&q, "isi"));
    "ok"
}

// ---- an element that is replaced --------------------------------------------------

async fn stale(State(state): State<Shared>) -> Html<String> {
    let clicks = lock(&state).clicks;
    let body = format!(
        r#"<h2>Tombol yang Digambar Ulang</h2>
<p>Jumlah klik: <span id="jumlah">{clicks}</span></p>
<div style="height: 1600px" class="petunjuk">(gulung ke bawah)</div>
<div id="wadah"><input type="button" class="tombol" id="proses" value="Proses"></div>
<script type="text/javascript">
// The page draws the button again whenever it is scrolled (a widget library that
// re-renders on scroll), so a reference taken before the scroll goes stale.
window.addEventListener("scroll", function () {{
  var w = document.getElementById("wadah");
  w.innerHTML = '<input type="button" class="tombol" id="proses" value="Proses">';
}});
document.addEventListener("click", function (e) {{
  if (e.target && e.target.id === "proses") {{
    var x = new XMLHttpRequest();
    x.open("GET", "/lab/klik", true);
    x.onreadystatechange = function () {{ if (x.readyState === 4) document.getElementById("jumlah").innerHTML = x.responseText; }};
    x.send(null);
  }}
}});
</script>"#
    );
    Html(layout("Tombol", None, &body, ""))
}

async fn click(State(state): State<Shared>) -> String {
    let mut inner = lock(&state);
    inner.clicks += 1;
    inner.clicks.to_string()
}

/// Fails with a 503 page the first time each `kunci` is asked for, then works: a
/// system that is briefly overloaded.
async fn sometimes(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let key = field(&q, "kunci");
    let first = {
        let mut inner = lock(&state);
        let seen = inner.answers.iter().any(|a| *a == format!("kadang:{key}"));
        if !seen {
            inner.answers.push(format!("kadang:{key}"));
        }
        !seen
    };
    if first {
        let body = "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request due to maintenance downtime or capacity problems.</p></body></html>";
        return (StatusCode::SERVICE_UNAVAILABLE, Html(body.to_string())).into_response();
    }
    Html(layout(
        "Kadang",
        None,
        &format!(
            "<h2>Berhasil</h2><div id=\"hasil\">kunci {}</div>",
            esc(&key)
        ),
        "",
    ))
    .into_response()
}

/// The next `kali` logins answer with a server error, the first time each `kunci` is
/// asked for (later asks change nothing): a login page that falters for a while.
async fn close_logins(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Html<String> {
    let key = format!("tutup:{}", field(&q, "kunci"));
    let times: u32 = field(&q, "kali").parse().unwrap_or(1);
    let mut inner = lock(&state);
    if !inner.answers.contains(&key) {
        inner.answers.push(key);
        inner.failing_logins += times;
    }
    let left = inner.failing_logins;
    drop(inner);
    Html(layout(
        "Tutup",
        None,
        &format!("<h2>Login ditutup</h2><p id=\"tutup\">{left} login berikutnya gagal.</p>"),
        "",
    ))
}

// ---- what a person sees -------------------------------------------------------------

/// Text and fields as a person sees them: an error message that is there but hidden,
/// no-break spaces and paragraphs, fields that are disabled, read-only or hidden,
/// selects, a hidden input and a transparent element.
async fn reading() -> Html<String> {
    let body = r#"<h2>Membaca Halaman</h2>
<div class="pesan-error" style="display:none">NIK tidak valid</div>
<div id="tak-terlihat" style="visibility:hidden">Tersembunyi</div>
<div id="transparan" style="opacity:0">Transparan</div>
<div id="nominal">Jumlah:&nbsp;Rp&nbsp;1.500.000</div>
<div id="paragraf"><p>Baris   pertama</p>
<p>Baris kedua
   dengan spasi</p><span style="display:none">rahasia</span><p>Baris&nbsp;&nbsp;ketiga<br>sambungan</p></div>
<table id="rincian" class="data" cellspacing="0"><tr><th>Nama</th><th>Nilai</th></tr><tr><td>NIK</td><td>&nbsp;3201 0101&nbsp;</td></tr></table>
<p>Total: <input type="text" id="total" value="1.500.000" disabled>
Kode: <input type="text" id="kode" value="A-17" readonly>
<input type="hidden" id="tanggal-asli" name="tanggal" value="2026-11-29">
<input type="text" id="tanggal-tampil" value="" style="display:none"></p>
<p><select id="jenis"><option value="1">Izin Usaha</option><option value="2" selected>Izin&nbsp;Mendirikan   Bangunan</option></select>
<select id="banyak" multiple size="3"><option selected>Satu</option><option>Dua</option><option selected>Tiga</option></select>
<select id="kosong"><option value="">-- pilih --</option><option value="1">Satu</option></select></p>
<p id="campur">Status: <b>Aktif</b> <span style="display:none">(lama)</span> <i style="visibility:hidden">x</i></p>
<pre id="pra">  Kode   A
 Kode B</pre>
<div id="kapital" style="text-transform:uppercase">izin usaha</div>
<div id="induk" style="visibility:hidden">luar <span id="anak" style="visibility:visible">dalam</span></div>
<div id="nol" style="height:0;overflow:hidden">terpotong</div>
<div id="daftar"><ul><li>Satu</li><li>Dua&#8203;</li></ul>Jumlah: <span>2</span></div>"#;
    Html(layout("Membaca", None, body, ""))
}

/// The verbs bot authors reach for: frames without a name, a multiple select,
/// keyboard keys, a title and address that change, a new window, an error page and
/// an alert after a click, attributes.
async fn tools(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let done = if field(&q, "selesai") == "1" {
        "<p id=\"status\">Selesai</p>"
    } else {
        ""
    };
    let body = format!(
        r#"<h2 id="judul">Alat</h2>{done}
<iframe src="/lab/bingkai-isi?n=1" width="300" height="60"></iframe>
<iframe src="/lab/bingkai-isi?n=2" class="kedua" width="300" height="60"></iframe>
<p><select id="pilihan" multiple size="4"><option value="a">Alfa</option><option value="b" selected>Beta</option><option value="c">Gama</option><option value="d">Delta</option></select>
<select id="tunggal"><option value="">-- pilih --</option><option value="1">Satu</option><option value="2">Dua</option></select></p>
<p><input type="text" id="ketik" size="30" value="Halo"><input type="text" id="berikut" size="10">
Tombol: <span id="tombol-terakhir"></span> Fokus: <span id="fokus"></span></p>
<p><a id="tautan" href="/lab/tabel" data-kode="K-42" title="Ke tabel">Tabel</a></p>
<p>
<input type="button" class="tombol" id="buka-jendela" value="Buka jendela" onclick="window.open('/lab/tabel', 'tabel');">
<input type="button" class="tombol" id="ganti-judul" value="Proses" onclick="setTimeout(function () {{ document.title = 'Selesai diproses'; history.pushState(null, '', '/lab/alat?selesai=1'); }}, 400);">
</p>
<p><a id="ke-rusak" href="/lab/rusak">Halaman galat</a> <a id="ke-sapa" href="/lab/dialog?kejutan=1">Halaman yang menyapa</a></p>
<p><a id="ke-luar" href="/lab/alihkan?ke=file:///etc/passwd">Berkas lokal</a></p>
<script type="text/javascript">
document.getElementById("ketik").addEventListener("keydown", function (e) {{ document.getElementById("tombol-terakhir").innerHTML = e.key; }});
document.addEventListener("focusin", function (e) {{ document.getElementById("fokus").innerHTML = e.target.id; }});
</script>"#
    );
    Html(layout("Alat", None, &body, ""))
}

/// The page inside the frames of [`tools`]: frames that have neither name nor id.
async fn frame_content(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let n = field(&q, "n").parse::<u32>().unwrap_or(1);
    Html(format!(
        "<html><head><title>Bingkai {n}</title></head><body><p id=\"isi\">Isi bingkai {n}</p></body></html>"
    ))
}

/// A NIP look-up that starts when the field is left (blur). A button opens a popup
/// that the bot closes; the look-up must still start after the popup is gone. The
/// field takes digits only (a keypress filter reading `which`/`keyCode`).
async fn nip_page() -> Html<String> {
    let body = r#"<h2>Data Pegawai</h2>
<p><input type="button" class="tombol" id="buka-sembulan" value="Petunjuk" onclick="window.open('/lab/sembulan', 'petunjuk', 'width=300,height=200');"></p>
<p><label for="nip">NIP:</label> <input type="text" id="nip" size="20" onkeypress="return hanyaAngka(event);"> Nama: <input type="text" id="nama" size="30" readonly>
Unit: <input type="text" id="unit" size="10"></p>
<p>Peristiwa: <span id="peristiwa"></span></p>
<script type="text/javascript">
// Only digits, as old pages filter them: by the key code of keypress.
function hanyaAngka(e) { var k = e.which || e.keyCode; return k >= 48 && k <= 57; }
var peristiwa = [];
function catat(e) { peristiwa.push(e.type); document.getElementById("peristiwa").innerHTML = peristiwa.filter(function (t, i) { return peristiwa.indexOf(t) === i; }).join(","); }
var nip = document.getElementById("nip");
["focus", "keydown", "keyup", "input", "change", "blur"].forEach(function (t) { nip.addEventListener(t, catat); });
nip.addEventListener("blur", function () {
  var x = new XMLHttpRequest();
  x.open("GET", "/lab/nip/cari?nip=" + encodeURIComponent(nip.value), true);
  x.onreadystatechange = function () { if (x.readyState === 4) document.getElementById("nama").value = x.responseText; };
  x.send(null);
});
</script>"#;
    Html(layout("Pegawai", None, body, ""))
}

async fn nip_lookup(Query(q): Query<HashMap<String, String>>) -> String {
    match field(&q, "nip").as_str() {
        "198001012005011001" => "Siti Aminah".into(),
        "" => String::new(),
        other => format!("(NIP {other} tidak ditemukan)"),
    }
}

async fn popup() -> Html<String> {
    Html(layout(
        "Petunjuk",
        None,
        "<h2>Petunjuk</h2><p id=\"petunjuk\">NIP terdiri dari 18 angka.</p>",
        "",
    ))
}

// ---- doors out of the web -----------------------------------------------------------

/// A page that tries to lead the browser out of the web: to local files (`file:`),
/// to a `data:` page, through a redirect, a new window and a frame, and to another
/// host (`localhost` instead of the address it was opened at).
async fn doors() -> Html<String> {
    let body = r#"<h2 id="judul">Pintu Keluar</h2>
<ul>
<li><a id="berkas" href="file:///etc/passwd">Berkas sandi (file:)</a></li>
<li><a id="folder" href="file:///">Folder akar (file:)</a></li>
<li><a id="data" href="data:text/html;base64,PGgxPkhBTEFNQU4tREFUQS1SQUhBU0lBPC9oMT4=">Halaman data:</a></li>
<li><a id="alihkan" href="/lab/alihkan?ke=file:///etc/passwd">Pengalihan ke berkas</a></li>
<li><a id="pulang" href="/lab/tabel">Tabel (host yang sama)</a></li>
<li><a id="luar" href="/lab" onclick="location.href = 'http://localhost:' + location.port + '/lab/tabel'; return false;">Host lain (localhost)</a></li>
</ul>
<p>
<input type="button" class="tombol" id="lokasi" value="Buka berkas" onclick="location.href = 'file:///etc/passwd';">
<input type="button" class="tombol" id="jendela" value="Jendela berkas" onclick="window.open('file:///etc/passwd', 'berkas');">
</p>
<iframe name="bingkai" id="bingkai" src="file:///etc/passwd" width="400" height="120"></iframe>
<iframe name="bingkai-data" id="bingkai-data" src="data:text/html;base64,PHA+SEFMQU1BTi1EQVRBLUJJTkdLQUk8L3A+" width="400" height="60"></iframe>"#;
    Html(layout("Pintu Keluar", None, body, ""))
}

/// `302 Found` to the address in `ke`, whatever it is.
async fn redirect(Query(q): Query<HashMap<String, String>>) -> Response {
    let to = field(&q, "ke");
    (StatusCode::FOUND, [(axum::http::header::LOCATION, to)], "").into_response()
}

/// Ends every session, as an idle timeout would.
async fn expire(State(state): State<Shared>) -> Html<String> {
    lock(&state).sessions.clear();
    Html(layout(
        "Sesi",
        None,
        "<h2>Sesi</h2><p id=\"kedaluwarsa\">Semua sesi telah diakhiri.</p>",
        "",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_round_trip() {
        let text = "José Dédé – Œuvre €5";
        assert_eq!(decode_1252(&encode_1252(text)), text);
        assert_eq!(encode_1252("é"), vec![0xe9]);
    }

    #[test]
    fn form_bodies_in_windows_1252() {
        let form = form_1252(b"nama=Jos%E9+D%E9d%E9&x=%80");
        assert_eq!(form["nama"], "José Dédé");
        assert_eq!(form["x"], "€");
    }

    #[test]
    fn multipart_file_part() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"berkas\"; filename=\"surat.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1\r\n--XyZ--\r\n";
        let (name, data) = multipart_file("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(name, "surat.pdf");
        assert_eq!(data, b"%PDF-1");
    }
}
