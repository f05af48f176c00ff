//! Server-rendered HTML of the demo portal, in the style of a mid-2000s
//! government web application (table layout, Verdana, grey/blue header bar).

use std::fmt::Write as _;

use super::rules::{self, Permohonan, JENIS, SKALA};
use super::Record;

/// Escapes text for use in HTML content and (double- or single-quoted) attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { margin: 0; padding: 10px 0; background: #dfe3e8; font-family: Verdana, Tahoma, Arial, sans-serif; font-size: 11px; color: #222; }
table.bingkai { background: #ffffff; border: 1px solid #7a8ca3; }
td.kepala { background: #2f4f7f; color: #ffffff; padding: 8px 12px; border-bottom: 3px solid #c9a43a; }
td.kepala .instansi { font-size: 10px; letter-spacing: 1px; }
td.kepala .judul { font-family: Tahoma, Verdana, sans-serif; font-size: 17px; font-weight: bold; }
td.bilah { background: #c7ced8; border-bottom: 1px solid #8c99ab; padding: 3px 12px; font-size: 10px; }
td.isi { padding: 14px 16px; vertical-align: top; }
td.kaki { background: #eef0f3; border-top: 1px solid #b5bfcc; padding: 4px; font-size: 9px; color: #666; text-align: center; }
h2 { font-family: Tahoma, Verdana, sans-serif; font-size: 13px; color: #2f4f7f; border-bottom: 1px solid #2f4f7f; margin: 0 0 10px 0; padding-bottom: 2px; }
table.data { border-collapse: collapse; }
table.data th { background: #5b7499; color: #fff; font-size: 11px; padding: 3px 6px; border: 1px solid #40577a; text-align: left; }
table.data td { border: 1px solid #b5bfcc; padding: 3px 6px; font-size: 11px; }
table.data tr.genap td { background: #eef2f7; }
td.label { background: #e6eaf0; font-weight: bold; width: 170px; }
input, select, textarea { font-family: Verdana, Tahoma, sans-serif; font-size: 11px; }
input.tombol { background: #d4d0c8; border: 2px outset #eeeeee; padding: 1px 8px; }
.petunjuk { color: #777; font-size: 10px; }
.wajib { color: #cc0000; }
.pesan-error { border: 1px solid #cc0000; background: #fff0f0; padding: 5px 8px; margin-bottom: 10px; font-weight: bold; }
.pesan-sukses { border: 1px solid #3a8a3a; background: #effaef; color: #1d5e1d; padding: 5px 8px; margin-bottom: 10px; font-weight: bold; }
a { color: #1f3f8f; }
a:hover { color: #c00; }
"#;

/// Wraps `body` in the common page frame.
pub(crate) fn layout(title: &str, user: Option<&str>, body: &str, onload: &str) -> String {
    let status = match user {
        Some(u) => format!("Pengguna: <b>{}</b>", esc(u)),
        None => "Silakan masuk untuk melanjutkan".to_string(),
    };
    let today = chrono::Local::now().date_naive().format("%d/%m/%Y");
    let onload = if onload.is_empty() {
        String::new()
    } else {
        format!(" onload=\"{onload}\"")
    };
    format!(
        r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{title} - Layanan Perizinan Kabupaten Contoh</title>
<style type="text/css">{STYLE}</style>
</head>
<body{onload}>
<table class="bingkai" width="780" align="center" cellpadding="0" cellspacing="0" border="0">
<tr><td class="kepala">
  <div class="instansi">PEMERINTAH KABUPATEN CONTOH</div>
  <div class="judul">Layanan Perizinan &ndash; Dinas Penanaman Modal dan PTSP Kabupaten Contoh</div>
</td></tr>
<tr><td class="bilah">
  <table width="100%" cellpadding="0" cellspacing="0" border="0"><tr>
    <td>{status}</td><td align="right">Tanggal: {today}</td>
  </tr></table>
</td></tr>
<tr><td class="isi">
{body}
</td></tr>
<tr><td class="kaki">&copy; 2009 Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Kabupaten Contoh &middot; SIMPEL versi 2.3.1 &middot; Tampilan terbaik dengan resolusi 800x600</td></tr>
</table>
</body>
</html>
"#,
        title = esc(title),
    )
}

pub(crate) fn login(user: &str, error: bool) -> String {
    let pesan = if error {
        "<div class=\"pesan-error\">Nama pengguna atau kata sandi salah.</div>\n"
    } else {
        ""
    };
    let body = format!(
        r#"<h2>Masuk Sistem</h2>
{pesan}<form name="frmlogin" method="post" action="/login">
<table cellpadding="4" cellspacing="0" border="0">
<tr><td>Nama Pengguna</td><td>:</td><td><input type="text" id="user" name="user" size="25" value="{user}"></td></tr>
<tr><td>Kata Sandi</td><td>:</td><td><input type="password" id="pass" name="pass" size="25"></td></tr>
<tr><td colspan="2"></td><td><input type="submit" class="tombol" value="Masuk"></td></tr>
</table>
</form>
<p class="petunjuk">Hubungi administrator sistem apabila lupa kata sandi.</p>"#,
        user = esc(user),
    );
    layout(
        "Masuk",
        None,
        &body,
        "if (top !== self) { top.location.href = '/login'; } document.getElementById('user').focus();",
    )
}

pub(crate) fn menu(user: &str) -> String {
    let body = format!(
        r#"<h2>Menu Utama</h2>
<div id="sambutan">Selamat datang, {user}</div>
<br>
<table class="data" id="menu" cellspacing="0">
<tr><th>Menu</th><th>Keterangan</th></tr>
<tr><td>&raquo; <a href="/permohonan/baru">Permohonan Baru</a></td><td>Entri permohonan izin usaha baru</td></tr>
<tr class="genap"><td>&raquo; <a href="/permohonan">Daftar Permohonan</a></td><td>Melihat permohonan yang sudah terdaftar</td></tr>
<tr><td>&raquo; <a href="/logout">Keluar</a></td><td>Keluar dari sistem</td></tr>
</table>"#,
        user = esc(user),
    );
    layout("Menu Utama", Some(user), &body, "")
}

/// The entry form, pre-filled with `form` and with `error` shown above it.
pub(crate) fn form(user: &str, form: &Permohonan, error: Option<&str>) -> String {
    let mut body = String::from("<h2>Entri Permohonan Izin Baru</h2>\n");
    if let Some(msg) = error {
        let _ = writeln!(
            body,
            "<div class=\"pesan-error\" style=\"color:red\">{}</div>",
            esc(msg)
        );
    }
    let selected_kode = rules::jenis(&form.jenis).map(|(k, _)| k);
    let mut options = String::from("<option value=\"\">-- Pilih --</option>");
    for (kode, nama) in JENIS {
        let sel = if selected_kode == Some(kode) {
            " selected"
        } else {
            ""
        };
        let _ = write!(options, "<option value=\"{kode}\"{sel}>{nama}</option>");
    }
    let mut radios = String::new();
    for (value, id) in SKALA {
        let checked = if form.skala == value { " checked" } else { "" };
        let _ = write!(
            radios,
            "<input type=\"radio\" name=\"skala\" id=\"skala-{id}\" value=\"{value}\"{checked}> {value} &nbsp;&nbsp;"
        );
    }
    let _ = write!(
        body,
        r#"<form name="frm" id="frm" method="post" action="/permohonan">
<table class="data" cellspacing="0" width="100%">
<tr><td class="label">NIK Pemohon <span class="wajib">*</span></td><td><input type="text" id="nik" name="nik" size="22" value="{nik}" onchange="cekNik()"> <span id="memuat" style="display:none" class="petunjuk">Memeriksa NIK&hellip;</span><span id="cek-nik" class="petunjuk"></span></td></tr>
<tr><td class="label">Nama Pemohon <span class="wajib">*</span></td><td><input type="text" id="nama" name="nama" size="40" value="{nama}"></td></tr>
<tr><td class="label">Jenis Izin <span class="wajib">*</span></td><td><select id="jenis" name="jenis">{options}</select></td></tr>
<tr><td class="label">Skala Usaha <span class="wajib">*</span></td><td>{radios}</td></tr>
<tr><td class="label">Tanggal Pengajuan <span class="wajib">*</span></td><td><input type="text" id="tanggal-tampil" size="12" value="{tanggal}" readonly="readonly" style="background:#f2f2f2" onclick="bukaKalender()"> <input type="hidden" id="tanggal" name="tanggal" value="{tanggal}"> <a href="javascript:bukaKalender()">[kalender]</a> <span class="petunjuk">(pilih dari kalender)</span>
<div id="kalender" style="display:none; position:absolute; background:#fff; border:1px solid #7a8ca3; padding:4px; z-index:5"></div></td></tr>
<tr><td class="label">Alamat Usaha</td><td><textarea id="alamat" name="alamat" rows="3" cols="50">{alamat}</textarea></td></tr>
<tr><td class="label">No. Telepon</td><td><input type="text" id="telepon" name="telepon" size="20" value="{telepon}"></td></tr>
<tr><td class="label">&nbsp;</td><td>
<input type="button" class="tombol" id="simpan" value="Simpan" disabled="disabled" onclick="if (confirm('Simpan permohonan ini?')) {{ document.frm.submit(); }}">
<input type="reset" class="tombol" value="Batal">
</td></tr>
</table>
</form>
<p class="petunjuk"><span class="wajib">*</span> wajib diisi &middot; <a href="/menu">Kembali ke Menu</a></p>
<script type="text/javascript">
// Halaman ini hanya boleh dibuka di dalam bingkai utama.
if (top === self) {{ location.replace("/utama?hal=baru"); }}
function cekNik() {{
  var nik = document.getElementById("nik").value;
  var tombol = document.getElementById("simpan");
  tombol.disabled = true;
  document.getElementById("cek-nik").innerHTML = "";
  document.getElementById("memuat").style.display = "inline";
  var x = new XMLHttpRequest();
  x.open("GET", "/api/cek-nik?nik=" + encodeURIComponent(nik), true);
  x.onreadystatechange = function () {{
    if (x.readyState !== 4) return;
    document.getElementById("memuat").style.display = "none";
    document.getElementById("cek-nik").innerHTML = x.status === 200 ? x.responseText : "Gagal memeriksa NIK";
    tombol.disabled = false;
  }};
  x.send(null);
}}
document.getElementById("tanggal").onchange = function () {{
  document.getElementById("tanggal-tampil").value = this.value;
}};
function bukaKalender() {{
  var k = document.getElementById("kalender"), t = new Date(), html = "<b>" + (t.getMonth() + 1) + "/" + t.getFullYear() + "</b><br>";
  for (var d = 1; d <= 28; d++) {{
    var v = ("0" + d).slice(-2) + "/" + ("0" + (t.getMonth() + 1)).slice(-2) + "/" + t.getFullYear();
    html += "<a href='#' onclick=\"pilihTanggal('" + v + "'); return false;\">" + d + "</a> ";
    if (d % 7 === 0) html += "<br>";
  }}
  k.innerHTML = html;
  k.style.display = "block";
}}
function pilihTanggal(v) {{
  var h = document.getElementById("tanggal");
  h.value = v;
  h.onchange();
  document.getElementById("kalender").style.display = "none";
}}
if (document.getElementById("nik").value !== "") {{ cekNik(); }}
</script>"#,
        nik = esc(&form.nik),
        nama = esc(&form.nama),
        tanggal = esc(&form.tanggal),
        alamat = esc(&form.alamat),
        telepon = esc(&form.telepon),
    );
    layout(
        "Permohonan Baru",
        Some(user),
        &body,
        "document.frm.nik.focus();",
    )
}

/// The result page after a successful save: the details are in an iframe
/// (`detail`); an industrial permit's number is shown only in a popup window
/// ("Tanda Terima") that the page opens.
pub(crate) fn hasil(user: &str, id: usize, r: &Record) -> String {
    let popup = r.jenis_izin == "Izin Usaha Industri";
    let body = format!(
        r#"<h2>Hasil Penyimpanan</h2>
<div class="pesan-sukses" id="hasil-ok">Permohonan berhasil disimpan.</div>
{catatan}<iframe name="detail" id="detail" src="/permohonan/detail?id={id}" width="100%" height="250" frameborder="0"></iframe>
<p><a href="/menu">Menu Utama</a> &nbsp;|&nbsp; <a href="/permohonan/baru">Permohonan Baru</a></p>"#,
        catatan = if popup {
            "<p class=\"petunjuk\" id=\"catatan\">Nomor registrasi izin industri ditampilkan pada jendela Tanda Terima.</p>\n"
        } else {
            ""
        },
    );
    let onload = if popup {
        format!("window.open('/permohonan/tanda-terima?id={id}', 'tandaterima', 'width=460,height=320');")
    } else {
        String::new()
    };
    layout("Hasil Penyimpanan", Some(user), &body, &onload)
}

/// The detail table shown inside the result page's iframe.
pub(crate) fn detail(r: &Record) -> String {
    let no_reg = if r.jenis_izin == "Izin Usaha Industri" {
        "(lihat Tanda Terima)".to_string()
    } else {
        esc(&r.no_reg)
    };
    format!(
        r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Detail</title>
<style type="text/css">{STYLE}</style></head><body style="padding:0; background:#fff">
<table class="data" id="hasil" cellspacing="0" width="100%">
<tr><td class="label">No. Registrasi</td><td id="no-reg">{no_reg}</td></tr>
<tr><td class="label">NIK</td><td id="hasil-nik">{nik}</td></tr>
<tr><td class="label">Nama Pemohon</td><td id="hasil-nama">{nama}</td></tr>
<tr><td class="label">Jenis Izin</td><td id="hasil-jenis">{jenis}</td></tr>
<tr><td class="label">Skala Usaha</td><td id="hasil-skala">{skala}</td></tr>
<tr><td class="label">Tanggal Pengajuan</td><td id="hasil-tanggal">{tanggal}</td></tr>
<tr><td class="label">Alamat Usaha</td><td id="hasil-alamat">{alamat}</td></tr>
<tr><td class="label">No. Telepon</td><td id="hasil-telepon">{telepon}</td></tr>
</table></body></html>
"#,
        nik = esc(&r.nik),
        nama = esc(&r.nama),
        jenis = esc(&r.jenis_izin),
        skala = esc(&r.skala),
        tanggal = r.tanggal.format("%d/%m/%Y"),
        alamat = esc(&r.alamat),
        telepon = esc(&r.telepon),
    )
}

/// The receipt popup of an industrial permit.
pub(crate) fn tanda_terima(r: &Record) -> String {
    format!(
        r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Tanda Terima Permohonan</title>
<style type="text/css">{STYLE}</style></head><body style="padding:10px; background:#fff">
<h2>Tanda Terima</h2>
<p>Telah diterima permohonan <b>{jenis}</b> atas nama <b>{nama}</b>.</p>
<p>Nomor registrasi: <b id="no-tanda-terima">{no_reg}</b></p>
<p><input type="button" class="tombol" value="Cetak" onclick="window.print()"> <input type="button" class="tombol" id="tutup" value="Tutup" onclick="window.close()"></p>
</body></html>
"#,
        jenis = esc(&r.jenis_izin),
        nama = esc(&r.nama),
        no_reg = esc(&r.no_reg),
    )
}

/// The frameset: the menu on the left, the work in `main`.
pub(crate) fn utama(main_src: &str) -> String {
    format!(
        r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Frameset//EN" "http://www.w3.org/TR/html4/frameset.dtd">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>SIMPEL - Layanan Perizinan Kabupaten Contoh</title></head>
<frameset cols="190,*" border="1">
  <frame name="menu" src="/menu-kiri" scrolling="no">
  <frame name="main" src="{main_src}">
</frameset>
</html>
"#,
        main_src = esc(main_src),
    )
}

/// The left menu frame; links open in `main`.
pub(crate) fn menu_kiri(user: &str) -> String {
    format!(
        r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Menu</title>
<style type="text/css">{STYLE}</style></head><body style="padding:8px; background:#eef0f3">
<b>SIMPEL 2.3</b><br><span class="petunjuk">{user}</span><hr>
&raquo; <a href="/menu" target="main">Beranda</a><br>
&raquo; <a href="/permohonan/baru" target="main">Permohonan Baru</a><br>
&raquo; <a href="/permohonan" target="main">Daftar Permohonan</a><br>
&raquo; <a href="/logout" target="_top">Keluar</a>
</body></html>
"#,
        user = esc(user),
    )
}

pub(crate) fn tidak_ditemukan(user: Option<&str>) -> String {
    let body = "<h2>Data Tidak Ditemukan</h2>\n<div class=\"pesan-error\">Halaman atau data yang diminta tidak ditemukan.</div>\n<p><a href=\"/menu\">Menu Utama</a></p>";
    layout("Tidak Ditemukan", user, body, "")
}

/// The list page; `filter` is the (trimmed) NIK filter, empty for none.
pub(crate) fn daftar(user: &str, records: &[&Record], filter: &str) -> String {
    let mut body = format!(
        r#"<h2>Daftar Permohonan</h2>
<form name="frmcari" method="get" action="/permohonan">
Cari NIK: <input type="text" id="cari-nik" name="nik" size="22" value="{filter}">
<input type="submit" class="tombol" value="Cari">
</form>
<br>
<table class="data" id="daftar" cellspacing="0" width="100%">
<tr><th>No. Registrasi</th><th>NIK</th><th>Nama Pemohon</th><th>Jenis Izin</th><th>Skala</th><th>Tanggal Pengajuan</th></tr>
"#,
        filter = esc(filter),
    );
    for (i, r) in records.iter().enumerate() {
        let class = if i % 2 == 1 { " class=\"genap\"" } else { "" };
        let _ = writeln!(
            body,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.no_reg),
            esc(&r.nik),
            esc(&r.nama),
            esc(&r.jenis_izin),
            esc(&r.skala),
            r.tanggal.format("%d/%m/%Y"),
        );
    }
    body.push_str("</table>\n");
    if records.is_empty() {
        body.push_str("<p><i>Belum ada data.</i></p>\n");
    }
    let _ = write!(
        body,
        "<p>Jumlah data: <b id=\"jumlah\">{}</b></p>\n<p><a href=\"/menu\">Kembali ke Menu</a></p>",
        records.len()
    );
    layout("Daftar Permohonan", Some(user), &body, "")
}
