//! A registration form as such systems label it in every way at once (`<label for>`,
//! a wrapping label, text before the field, a placeholder), with a select, a
//! read-only calendar box, a checkbox, a disabled field, a help window that opens
//! by `target=_blank` and by `window.open`, a history table and a summary iframe:
//! the page `juru inspect` is tried on.

use axum::response::Html;

use super::layout;

pub(in crate::demo) async fn page() -> Html<String> {
    let body = r#"<h2>Formulir Pendaftaran Usaha</h2>
<form id="daftar-usaha" method="get" action="/lab/formulir">
<p><label for="nib">Nomor Induk Berusaha</label> <input type="text" id="nib" name="nib" size="20" required></p>
<p><label>Nama Usaha <input type="text" name="nama_usaha" size="40"></label></p>
<p><label for="kecamatan">Kecamatan</label> <select id="kecamatan" name="kecamatan"><option value="">-- Pilih --</option><option value="01">Sukamaju</option><option value="02">Wonorejo</option></select></p>
<p><label for="tgl-berdiri">Tanggal Berdiri</label> <input type="text" id="tgl-berdiri" name="tgl_berdiri" size="12" class="datepicker" readonly onclick="this.value = '01/01/2020';"></p>
<p><input type="checkbox" id="setuju" name="setuju" value="1"> <label for="setuju">Data sudah benar</label></p>
<p>Kode wilayah: <input type="text" name="kode" value="3301" size="6" disabled></p>
<p>Catatan <input type="text" class="catatan" placeholder="Catatan petugas" size="30"></p>
<p><input type="submit" class="tombol" value="Kirim"> <button type="button" class="tombol" onclick="window.open('/lab/jendela', 'bantuan', 'width=400,height=300');">Bantuan</button></p>
</form>
<p><a href="/lab/jendela" target="_blank">Petunjuk pengisian</a> | <a href="/lab/tabel">Data penduduk</a></p>
<table class="data" id="riwayat" cellspacing="0">
<tr><th>Tanggal</th><th>Petugas</th></tr>
<tr><td>01/11/2026</td><td>Budi</td></tr>
<tr><td>02/11/2026</td><td>Sari</td></tr>
</table>
<iframe name="ringkasan" src="/lab/jendela" width="400" height="120"></iframe>"#;
    Html(layout("Formulir", None, body, ""))
}

/// The help window (and the summary frame).
pub(in crate::demo) async fn window() -> Html<String> {
    Html(layout(
        "Petunjuk Pengisian",
        None,
        "<h2 id=\"petunjuk\">Petunjuk Pengisian</h2>\n<p>Isi NIB sesuai OSS.</p>\n<p><a href=\"/lab\">Lab</a></p>",
        "",
    ))
}
