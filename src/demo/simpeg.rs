//! SIMPEG, a second legacy system in the demo portal: a 2000s staffing system
//! ("Sistem Informasi Kepegawaian") where officers propose staff transfers. It
//! behaves as such systems do: a frameset, an NIP look-up that starts when the NIP
//! field loses focus, a calendar widget, an upload of the decree (SK), a `confirm()`
//! before saving, the proposal number only in a receipt popup, a list that also
//! holds refused proposals, and — with [`PortalOptions::simpeg_faults`](super::PortalOptions)
//! — faults: server errors before and *after* the save, and sessions that expire.
//! Logged in through the portal's own `/login`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::pages::esc;
use super::{current_user, field, lock, session_id, Shared};

/// A staff member SIMPEG knows: (NIP, name, current unit).
const PEGAWAI: [(&str, &str, &str); 12] = [
    ("198803052010121004", "Dewi Lestari", "Bagian Umum"),
    ("197905122005011002", "Agus Santoso", "Bidang Anggaran"),
    ("198511232009032001", "Siti Rahmawati", "Bidang Mutasi"),
    ("199002142015031003", "Budi Hartono", "Sekretariat"),
    ("198207302006042005", "Rina Marlina", "Bidang Pengembangan"),
    ("197611182003121001", "Hendra Wijaya", "Bagian Umum"),
    ("199105062019022002", "Maya Sari", "Bidang Anggaran"),
    ("198409152008011003", "Joko Prasetyo", "Bidang Mutasi"),
    ("199312012020121001", "Fajar Nugroho", "Sekretariat"),
    (
        "198701272011012004",
        "Wulan Ayuningtyas",
        "Bidang Pengembangan",
    ),
    ("195703101980031001", "Sutrisno", "Bagian Umum"),
    ("199408222022032006", "Indah Permatasari", "Bidang Anggaran"),
];

/// A retired staff member: proposals for them are refused.
const PENSIUN: &str = "195703101980031001";

const JENIS: [&str; 3] = ["Mutasi Antar Unit", "Kenaikan Pangkat", "Penugasan Khusus"];
const UNIT: [&str; 5] = [
    "Bagian Umum",
    "Bidang Anggaran",
    "Bidang Mutasi",
    "Bidang Pengembangan",
    "Sekretariat",
];

/// A proposal in SIMPEG's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usulan {
    /// `MUT/NNNN/2026`.
    pub nomor: String,
    pub nip: String,
    pub jenis: String,
    pub unit: String,
    /// As typed, `dd/mm/yyyy`.
    pub tanggal_sk: String,
    /// `Diproses` (saved by an officer or a bot) or `Ditolak` (refused earlier).
    pub status: String,
    /// The decree's file name.
    pub berkas: String,
}

/// SIMPEG's share of the portal's state.
#[derive(Debug)]
pub(super) struct Simpeg {
    pub usulan: Vec<Usulan>,
    /// The faults it injected, by kind: `sesi`, `500-sebelum`, `500-sesudah`.
    pub faults: Vec<String>,
    /// A small deterministic random source for the faults.
    seed: u64,
}

impl Default for Simpeg {
    fn default() -> Self {
        Simpeg {
            // Refused earlier for the same person, type and date as a proposal the
            // demo workbook makes: a `verify` that ignores the status is fooled.
            usulan: vec![Usulan {
                nomor: "MUT/0001/2026".into(),
                nip: "198511232009032001".into(),
                jenis: "Mutasi Antar Unit".into(),
                unit: "Bidang Anggaran".into(),
                tanggal_sk: "02/03/2026".into(),
                status: "Ditolak".into(),
                berkas: "sk-lama.pdf".into(),
            }],
            faults: Vec::new(),
            seed: 20260302,
        }
    }
}

impl Simpeg {
    /// A number from 0 to 99, the same sequence for every portal.
    fn roll(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.seed >> 33) % 100
    }
}

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/simpeg", get(frameset))
        .route("/simpeg/atas", get(top))
        .route("/simpeg/mutasi", get(form_page).post(save))
        .route("/simpeg/api/pegawai", get(lookup))
        .route("/simpeg/hasil", get(result))
        .route("/simpeg/tanda-terima", get(receipt))
        .route("/simpeg/daftar", get(list))
}

const STYLE: &str = "body{font-family:Tahoma,Verdana,sans-serif;font-size:12px;background:#f4f1e8}\
h2{font-size:15px;color:#5a3e1b}table.data td{padding:3px 6px}\
.pesan-error{color:#b00;font-weight:bold;margin:6px 0}.label{width:150px;background:#e9e2cf}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>{} - SIMPEG</title><style type=\"text/css\">{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        esc(title)
    )
}

fn error_500() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>The server encountered an internal error or misconfiguration and was unable to complete your request.</p><hr><address>Apache/2.2.15 (CentOS) Server at simpeg Port 80</address></body></html>".to_string()),
    )
        .into_response()
}

/// Whether a fault strikes now: one roll against the configured percentage.
fn fault(state: &Shared) -> bool {
    let percent = state.options.simpeg_faults as u64;
    percent > 0 && lock(state).simpeg.roll() < percent
}

async fn frameset(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if current_user(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    Html(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Frameset//EN\">\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>SIMPEG - Sistem Informasi Kepegawaian</title></head>\n<frameset rows=\"56,*\" border=\"0\">\n  <frame name=\"atas\" src=\"/simpeg/atas\" scrolling=\"no\">\n  <frame name=\"isi\" src=\"/simpeg/mutasi\">\n</frameset></html>\n"
            .to_string(),
    )
    .into_response()
}

async fn top() -> Html<String> {
    Html(page(
        "Kepala",
        "<b>SIMPEG</b> &middot; Sistem Informasi Kepegawaian &middot; Badan Kepegawaian Daerah Kabupaten Contoh",
    ))
}

fn form_html(error: Option<&str>) -> String {
    let mut body = String::from("<h2>Usulan Mutasi Pegawai</h2>\n");
    // The error box ships hidden in every page; the look-up shows it.
    let _ = writeln!(
        body,
        "<div class=\"pesan-error\" id=\"pesan\"{}>{}</div>",
        if error.is_some() {
            ""
        } else {
            " style=\"display:none\""
        },
        esc(error.unwrap_or("NIP tidak ditemukan"))
    );
    let jenis: String = JENIS
        .iter()
        .map(|j| format!("<option>{j}</option>"))
        .collect();
    let unit: String = UNIT
        .iter()
        .map(|u| format!("<option>{u}</option>"))
        .collect();
    let _ = write!(
        body,
        r#"<form name="frm" method="post" action="/simpeg/mutasi" enctype="multipart/form-data">
<table class="data" cellspacing="1">
<tr><td class="label">NIP</td><td><input type="text" id="nip" name="nip" size="22" maxlength="18" onblur="cariNip()"> <span id="memuat" style="display:none">mencari&hellip;</span></td></tr>
<tr><td class="label">Nama</td><td><input type="text" id="nama" name="nama" size="35" readonly style="background:#eee"></td></tr>
<tr><td class="label">Unit Lama</td><td><input type="text" id="unit-lama" size="35" readonly style="background:#eee"></td></tr>
<tr><td class="label">Jenis Usulan</td><td><select id="jenis" name="jenis"><option value="">-- Pilih --</option>{jenis}</select></td></tr>
<tr><td class="label">Unit Baru</td><td><select id="unit" name="unit"><option value="">-- Pilih --</option>{unit}</select></td></tr>
<tr><td class="label">Tanggal SK</td><td><input type="text" id="tanggal-tampil" size="12" readonly onclick="kalender()"> <input type="hidden" id="tanggal" name="tanggal"> <a href="javascript:kalender()">[kalender]</a>
<div id="kalender" style="display:none"></div></td></tr>
<tr><td class="label">Berkas SK</td><td><input type="file" id="berkas" name="berkas"></td></tr>
<tr><td></td><td><input type="button" id="simpan" value="Simpan" disabled onclick="if (confirm('Simpan usulan mutasi?')) {{ document.frm.submit(); }}"></td></tr>
</table></form>
<script type="text/javascript">
if (top === self) {{ location.replace("/simpeg"); }}
function cariNip() {{
  var nip = document.getElementById("nip").value;
  if (nip === "") return;
  document.getElementById("simpan").disabled = true;
  document.getElementById("pesan").style.display = "none";
  document.getElementById("memuat").style.display = "inline";
  var x = new XMLHttpRequest();
  x.open("GET", "/simpeg/api/pegawai?nip=" + encodeURIComponent(nip), true);
  x.onreadystatechange = function () {{
    if (x.readyState !== 4) return;
    document.getElementById("memuat").style.display = "none";
    var p = x.status === 200 ? x.responseText.split("|") : null;
    if (p && p.length === 2) {{
      document.getElementById("nama").value = p[0];
      document.getElementById("unit-lama").value = p[1];
      document.getElementById("simpan").disabled = false;
    }} else {{
      document.getElementById("nama").value = "";
      document.getElementById("pesan").innerHTML = x.status === 200 ? "NIP tidak ditemukan" : "Sesi berakhir, silakan masuk kembali";
      document.getElementById("pesan").style.display = "block";
    }}
  }};
  x.send(null);
}}
document.getElementById("tanggal").onchange = function () {{ document.getElementById("tanggal-tampil").value = this.value; }};
function kalender() {{
  var k = document.getElementById("kalender"), t = new Date(), h = "";
  for (var d = 1; d <= 28; d++) {{
    var v = ("0" + d).slice(-2) + "/" + ("0" + (t.getMonth() + 1)).slice(-2) + "/" + t.getFullYear();
    h += "<a href='#' onclick=\"pilih('" + v + "'); return false;\">" + d + "</a> ";
  }}
  k.innerHTML = h; k.style.display = "block";
}}
function pilih(v) {{ var h = document.getElementById("tanggal"); h.value = v; h.onchange(); document.getElementById("kalender").style.display = "none"; }}
</script>"#
    );
    page("Usulan Mutasi", &body)
}

async fn form_page(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if current_user(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    // The session times out now and then, as this system's do.
    if fault(&state) {
        if let Some(sid) = session_id(&headers) {
            lock(&state).sessions.remove(&sid);
        }
        lock(&state).simpeg.faults.push("sesi".into());
        return Redirect::to("/login").into_response();
    }
    Html(form_html(None)).into_response()
}

async fn lookup(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if current_user(&state, &headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "Sesi berakhir").into_response();
    }
    let nip = field(&q, "nip");
    tokio::time::sleep(Duration::from_millis(150)).await;
    match PEGAWAI.iter().find(|(n, _, _)| *n == nip) {
        Some((_, nama, unit)) => format!("{nama}|{unit}").into_response(),
        None => "-".into_response(),
    }
}

/// The parts of a multipart/form-data body: name -> (file name, bytes).
fn multipart(content_type: &str, body: &[u8]) -> HashMap<String, (Option<String>, Vec<u8>)> {
    let mut parts = HashMap::new();
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return parts;
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let text = body;
    let d = delimiter.as_bytes();
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut rest = text;
    while let Some(pos) = find(rest, d) {
        rest = &rest[pos + d.len()..];
        let Some(end) = find(rest, d) else { break };
        let part = &rest[..end];
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let mut value = part[split + 4..].to_vec();
        if value.ends_with(b"\r\n") {
            value.truncate(value.len() - 2);
        }
        let attr = |name: &str| {
            head.split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(|v| {
                    v.lines()
                        .next()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_string()
                })
        };
        if let Some(name) = attr("name") {
            parts.insert(name, (attr("filename"), value));
        }
    }
    parts
}

async fn save(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if current_user(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let parts = multipart(content_type, &body);
    let text = |name: &str| {
        parts
            .get(name)
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_default()
    };
    let (nip, jenis, unit, tanggal) = (text("nip"), text("jenis"), text("unit"), text("tanggal"));
    let berkas = parts
        .get("berkas")
        .and_then(|(f, v)| f.clone().filter(|f| !f.is_empty() && !v.is_empty()))
        .unwrap_or_default();
    let refusal = if !PEGAWAI.iter().any(|(n, _, _)| *n == nip) {
        Some("NIP tidak ditemukan".to_string())
    } else if nip == PENSIUN {
        Some("Pegawai sudah pensiun; usulan mutasi tidak dapat diajukan".to_string())
    } else if !JENIS.contains(&jenis.as_str()) || !UNIT.contains(&unit.as_str()) {
        Some("Jenis usulan dan unit baru wajib dipilih".to_string())
    } else if chrono::NaiveDate::parse_from_str(&tanggal, "%d/%m/%Y").is_err() {
        Some("Tanggal SK wajib diisi (dd/mm/yyyy)".to_string())
    } else if berkas.is_empty() {
        Some("Berkas SK wajib diunggah".to_string())
    } else {
        None
    };
    if let Some(message) = refusal {
        return Html(form_html(Some(&message))).into_response();
    }
    // A fault before the save: nothing is stored.
    let roll = {
        let percent = state.options.simpeg_faults as u64;
        let mut inner = lock(&state);
        let r = inner.simpeg.roll();
        (percent > 0 && r < percent).then_some(r % 2)
    };
    if roll == Some(0) {
        lock(&state).simpeg.faults.push("500-sebelum".into());
        return error_500();
    }
    let nomor = {
        let mut inner = lock(&state);
        let nomor = format!("MUT/{:04}/2026", inner.simpeg.usulan.len() + 1);
        inner.simpeg.usulan.push(Usulan {
            nomor: nomor.clone(),
            nip,
            jenis,
            unit,
            tanggal_sk: tanggal,
            status: "Diproses".into(),
            berkas,
        });
        nomor
    };
    // A fault after the save: stored, but the officer sees an error page.
    if roll == Some(1) {
        lock(&state).simpeg.faults.push("500-sesudah".into());
        return error_500();
    }
    Redirect::to(&format!("/simpeg/hasil?no={}", urlencode(&nomor))).into_response()
}

fn urlencode(s: &str) -> String {
    s.replace('/', "%2F")
}

async fn result(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if current_user(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    let no = field(&q, "no");
    Html(page(
        "Tersimpan",
        &format!(
            "<h2>Usulan tersimpan</h2><p class=\"sukses\">Usulan mutasi telah disimpan dan menunggu persetujuan.</p>\
             <p><a id=\"cetak\" href=\"#\" onclick=\"window.open('/simpeg/tanda-terima?no={}', 'tandaterima', 'width=420,height=260'); return false;\">Cetak Tanda Terima</a></p>",
            esc(&urlencode(&no))
        ),
    ))
    .into_response()
}

async fn receipt(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if current_user(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    let no = field(&q, "no");
    Html(format!(
        "<html><head><meta charset=\"utf-8\"><title>Tanda Terima</title></head><body><h3>Tanda Terima Usulan</h3><p>Nomor usulan: <b id=\"nomor\">{}</b></p><input type=\"button\" id=\"tutup\" value=\"Tutup\" onclick=\"window.close()\"></body></html>",
        esc(&no)
    ))
    .into_response()
}

async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if current_user(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    let nip = field(&q, "nip");
    let mut rows = String::new();
    for u in lock(&state).simpeg.usulan.iter().filter(|u| u.nip == nip) {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.nomor),
            esc(&u.nip),
            esc(&u.jenis),
            esc(&u.unit),
            esc(&u.tanggal_sk),
            esc(&u.status)
        );
    }
    Html(page(
        "Daftar Usulan",
        &format!("<h2>Daftar Usulan NIP {}</h2><table id=\"daftar\" border=\"1\" cellspacing=\"0\"><tr><th>Nomor</th><th>NIP</th><th>Jenis</th><th>Unit Baru</th><th>Tanggal SK</th><th>Status</th></tr>{rows}</table>", esc(&nip)),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_are_read_by_name() {
        let body = b"--XYZ\r\nContent-Disposition: form-data; name=\"nip\"\r\n\r\n198803052010121004\r\n--XYZ\r\nContent-Disposition: form-data; name=\"berkas\"; filename=\"sk.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1\r\n--XYZ--\r\n";
        let parts = multipart("multipart/form-data; boundary=XYZ", body);
        assert_eq!(parts["nip"].1, b"198803052010121004");
        assert_eq!(parts["berkas"].0.as_deref(), Some("sk.pdf"));
        assert_eq!(parts["berkas"].1, b"%PDF-1");
    }

    #[test]
    fn the_fault_sequence_is_the_same_for_every_portal() {
        let (mut a, mut b) = (Simpeg::default(), Simpeg::default());
        let xs: Vec<u64> = (0..20).map(|_| a.roll()).collect();
        let ys: Vec<u64> = (0..20).map(|_| b.roll()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| *x < 100));
    }
}
