//! Business rules of the demo portal's permit application form.
//!
//! Kept free of any HTTP or state handling so that every rule can be unit-tested
//! on its own: [`check`] takes the (already trimmed) submitted values, the records
//! saved so far and "today", and returns either the normalised values to store or
//! the first failing rule's message.

use chrono::NaiveDate;

use super::Record;

/// Permit types: (option value, visible text).
pub(crate) const JENIS: [(&str, &str); 4] = [
    ("IUMK", "Izin Usaha Mikro Kecil"),
    ("SIUP", "Surat Izin Usaha Perdagangan"),
    ("IUI", "Izin Usaha Industri"),
    ("TDG", "Tanda Daftar Gudang"),
];

/// Business scales: (radio value, id suffix).
pub(crate) const SKALA: [(&str, &str); 3] = [
    ("Mikro", "mikro"),
    ("Kecil", "kecil"),
    ("Menengah", "menengah"),
];

pub(crate) const NAMA_KOSONG: &str = "Nama pemohon wajib diisi.";
pub(crate) const NIK_FORMAT: &str = "NIK harus terdiri dari 16 digit angka.";
pub(crate) const NIK_TIDAK_DITEMUKAN: &str = "NIK tidak ditemukan di data kependudukan.";
pub(crate) const JENIS_KOSONG: &str = "Jenis izin wajib dipilih.";
pub(crate) const SKALA_KOSONG: &str = "Skala usaha wajib dipilih.";
pub(crate) const TANGGAL_FORMAT: &str = "Format tanggal pengajuan harus dd/mm/yyyy.";
pub(crate) const TANGGAL_MASA_DEPAN: &str = "Tanggal pengajuan tidak boleh melewati hari ini.";
pub(crate) const IUI_MIKRO: &str =
    "Izin Usaha Industri tidak dapat diajukan untuk usaha skala Mikro.";
pub(crate) const GANDA: &str = "Permohonan dengan NIK dan jenis izin yang sama sudah terdaftar.";

/// Two-digit province codes that open a valid NIK.
const KODE_PROVINSI: [u8; 38] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65,
    71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96,
];

/// The values of the entry form, as submitted (each already trimmed).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Permohonan {
    pub nik: String,
    pub nama: String,
    /// Option value (`IUMK`, ...); the visible text is accepted as well.
    pub jenis: String,
    pub skala: String,
    /// As typed, expected `dd/mm/yyyy`.
    pub tanggal: String,
    pub alamat: String,
    pub telepon: String,
}

/// What [`check`] returns for an acceptable application.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lolos {
    /// Visible text of the permit type.
    pub jenis: &'static str,
    pub skala: &'static str,
    pub tanggal: NaiveDate,
}

/// Looks a permit type up by option value or visible text.
pub(crate) fn jenis(value: &str) -> Option<(&'static str, &'static str)> {
    JENIS
        .iter()
        .copied()
        .find(|(kode, nama)| *kode == value || *nama == value)
}

fn nik_valid_format(nik: &str) -> bool {
    nik.len() == 16 && nik.bytes().all(|b| b.is_ascii_digit())
}

fn provinsi_dikenal(nik: &str) -> bool {
    nik.get(..2)
        .and_then(|p| p.parse::<u8>().ok())
        .is_some_and(|p| KODE_PROVINSI.contains(&p))
}

/// Parses `dd/mm/yyyy` (day and month may have one digit, the year has four).
pub(crate) fn parse_tanggal(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digits = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(d, 1, 2) || !digits(m, 1, 2) || !digits(y, 4, 4) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Applies the business rules in order; the first failing one gives the message.
pub(crate) fn check(
    form: &Permohonan,
    existing: &[Record],
    today: NaiveDate,
) -> Result<Lolos, &'static str> {
    if form.nama.is_empty() {
        return Err(NAMA_KOSONG);
    }
    if !nik_valid_format(&form.nik) {
        return Err(NIK_FORMAT);
    }
    if !provinsi_dikenal(&form.nik) {
        return Err(NIK_TIDAK_DITEMUKAN);
    }
    let (_, jenis) = jenis(&form.jenis).ok_or(JENIS_KOSONG)?;
    let (skala, _) = SKALA
        .iter()
        .copied()
        .find(|(v, _)| *v == form.skala)
        .ok_or(SKALA_KOSONG)?;
    let tanggal = parse_tanggal(&form.tanggal).ok_or(TANGGAL_FORMAT)?;
    if tanggal > today {
        return Err(TANGGAL_MASA_DEPAN);
    }
    if jenis == "Izin Usaha Industri" && skala == "Mikro" {
        return Err(IUI_MIKRO);
    }
    if existing
        .iter()
        .any(|r| r.nik == form.nik && r.jenis_izin == jenis)
    {
        return Err(GANDA);
    }
    Ok(Lolos {
        jenis,
        skala,
        tanggal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 15).expect("valid date")
    }

    fn good() -> Permohonan {
        Permohonan {
            nik: "3326011203850001".into(),
            nama: "Budi Santoso".into(),
            jenis: "SIUP".into(),
            skala: "Kecil".into(),
            tanggal: "10/06/2026".into(),
            alamat: "Jl. Merdeka No. 1".into(),
            telepon: "081234567890".into(),
        }
    }

    fn with(f: impl FnOnce(&mut Permohonan)) -> Result<Lolos, &'static str> {
        let mut p = good();
        f(&mut p);
        check(&p, &[], today())
    }

    #[test]
    fn accepts_a_good_form() {
        let ok = check(&good(), &[], today()).expect("accepted");
        assert_eq!(ok.jenis, "Surat Izin Usaha Perdagangan");
        assert_eq!(ok.skala, "Kecil");
        assert_eq!(
            ok.tanggal,
            NaiveDate::from_ymd_opt(2026, 6, 10).expect("date")
        );
    }

    #[test]
    fn accepts_visible_text_for_jenis_and_today() {
        let ok = with(|p| {
            p.jenis = "Tanda Daftar Gudang".into();
            p.tanggal = "15/06/2026".into();
        })
        .expect("accepted");
        assert_eq!(ok.jenis, "Tanda Daftar Gudang");
    }

    #[test]
    fn rule1_nama() {
        assert_eq!(with(|p| p.nama.clear()), Err(NAMA_KOSONG));
        // Comes before every other rule.
        assert_eq!(
            with(|p| {
                p.nama.clear();
                p.nik = "x".into();
            }),
            Err(NAMA_KOSONG)
        );
    }

    #[test]
    fn rule2_nik_format() {
        for nik in [
            "",
            "332601120385000",
            "33260112038500011",
            "33260112O3850001",
            "3326 01120385000",
            "３３26011203850001",
        ] {
            assert_eq!(with(|p| p.nik = nik.into()), Err(NIK_FORMAT), "{nik:?}");
        }
    }

    #[test]
    fn rule3_province() {
        for nik in [
            "0026011203850001",
            "2026011203850001",
            "9726011203850001",
            "4126011203850001",
        ] {
            assert_eq!(
                with(|p| p.nik = nik.into()),
                Err(NIK_TIDAK_DITEMUKAN),
                "{nik}"
            );
        }
        for nik in [
            "1101011203850001",
            "2101011203850001",
            "9601011203850001",
            "8201011203850001",
        ] {
            assert!(with(|p| p.nik = nik.into()).is_ok(), "{nik}");
        }
    }

    #[test]
    fn rule4_jenis() {
        assert_eq!(with(|p| p.jenis.clear()), Err(JENIS_KOSONG));
        assert_eq!(with(|p| p.jenis = "IMB".into()), Err(JENIS_KOSONG));
        assert_eq!(with(|p| p.jenis = "iumk".into()), Err(JENIS_KOSONG));
    }

    #[test]
    fn rule5_skala() {
        assert_eq!(with(|p| p.skala.clear()), Err(SKALA_KOSONG));
        assert_eq!(with(|p| p.skala = "Besar".into()), Err(SKALA_KOSONG));
    }

    #[test]
    fn rule6_tanggal() {
        for t in [
            "",
            "2026-06-10",
            "10-06-2026",
            "31/02/2026",
            "10/13/2026",
            "10/06/26",
            "1/6/2026/1",
        ] {
            assert_eq!(with(|p| p.tanggal = t.into()), Err(TANGGAL_FORMAT), "{t}");
        }
        assert!(with(|p| p.tanggal = "1/6/2026".into()).is_ok());
        assert_eq!(
            with(|p| p.tanggal = "16/06/2026".into()),
            Err(TANGGAL_MASA_DEPAN)
        );
        assert_eq!(
            with(|p| p.tanggal = "01/01/2099".into()),
            Err(TANGGAL_MASA_DEPAN)
        );
    }

    #[test]
    fn rule7_industri_mikro() {
        assert_eq!(
            with(|p| {
                p.jenis = "IUI".into();
                p.skala = "Mikro".into();
            }),
            Err(IUI_MIKRO)
        );
        assert!(with(|p| {
            p.jenis = "IUI".into();
            p.skala = "Menengah".into();
        })
        .is_ok());
        assert!(with(|p| p.skala = "Mikro".into()).is_ok());
    }

    #[test]
    fn rule8_duplicate() {
        let saved = Record {
            no_reg: "503/IZN/00001/2026".into(),
            nik: "3326011203850001".into(),
            nama: "Budi Santoso".into(),
            jenis_izin: "Surat Izin Usaha Perdagangan".into(),
            skala: "Kecil".into(),
            tanggal: NaiveDate::from_ymd_opt(2026, 6, 1).expect("date"),
            alamat: String::new(),
            telepon: String::new(),
        };
        let existing = [saved];
        assert_eq!(check(&good(), &existing, today()), Err(GANDA));
        let mut other_jenis = good();
        other_jenis.jenis = "TDG".into();
        assert!(check(&other_jenis, &existing, today()).is_ok());
        let mut other_nik = good();
        other_nik.nik = "3326011203850002".into();
        assert!(check(&other_nik, &existing, today()).is_ok());
    }
}
