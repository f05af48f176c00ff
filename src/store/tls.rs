//! TLS to a PostgreSQL store, as libpq's `sslmode` and `sslrootcert` in the store's
//! address ask for it (`postgres://juru@db:5432/juru?sslmode=verify-full&sslrootcert=/etc/juru/db-ca.pem`).
//!
//! The `postgres` crate knows only `disable`, `prefer` and `require` and no
//! `sslrootcert`: [`Address::parse`] takes both out of the address, reads the
//! certificate authority's file, and leaves the rest to the crate. What each mode
//! checks (libpq's rules):
//!
//! | `sslmode` | TLS | certificate chain | host name |
//! |---|---|---|---|
//! | `disable` | never | — | — |
//! | `prefer` (the default) | when the server offers it | only with `sslrootcert` | no |
//! | `require` | or refuse | only with `sslrootcert` | no |
//! | `verify-ca` | or refuse | to `sslrootcert` (which it needs) | no |
//! | `verify-full` | or refuse | to `sslrootcert`, else this machine's trusted roots | yes |
//!
//! `sslrootcert=system` (libpq 16) names this machine's trusted roots (the PEM
//! bundle `SSL_CERT_FILE`, else Debian's `/etc/ssl/certs/ca-certificates.crt`) and
//! goes only with `verify-full`. `~/.postgresql/root.crt` is not read: the file an
//! agent trusts is named in its address. A Unix-socket host never uses TLS (as
//! libpq). TLS is rustls with the ring provider; connecting is blocking, like every
//! store call. Errors are sentences for an operator: a bad value is a config error
//! ([`AddressError`]), a refused certificate says what did not match ([`connect`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How much TLS a connection needs (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// The value as written in an address.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(text: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// The certificate authorities a connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// `sslrootcert=/path/ca.pem`.
    File(PathBuf),
    /// This machine's trusted roots (`sslrootcert=system`, or `verify-full` without
    /// `sslrootcert`), read from this PEM bundle.
    System(PathBuf),
}

impl std::fmt::Display for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Roots::File(p) => write!(f, "{}", p.display()),
            Roots::System(p) => write!(
                f,
                "a certificate authority this machine trusts ({})",
                p.display()
            ),
        }
    }
}

/// A store address taken apart: what the `postgres` crate reads, and the TLS
/// settings juru reads itself.
pub struct Address {
    /// The address without `sslmode` and `sslrootcert`, with the crate's `sslmode`.
    pub config: postgres::Config,
    pub mode: SslMode,
    /// Whose signature the server's certificate must carry, when it is checked.
    pub roots: Option<Roots>,
    trusted: Option<Arc<RootCertStore>>,
}

/// Why a store address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// Not a PostgreSQL address (the `postgres` crate's reason, without the address,
    /// which may hold a password).
    NotAnAddress(String),
    /// `sslmode` or `sslrootcert` is wrong: a sentence saying what was expected.
    Tls(String),
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressError::NotAnAddress(e) => write!(
                f,
                "not a PostgreSQL address ({e}); expected postgres://user@host:port/database"
            ),
            AddressError::Tls(e) => f.write_str(e),
        }
    }
}

const MODES: &str = "disable, prefer, require, verify-ca or verify-full";

impl Address {
    /// Reads a `postgres://` address with libpq's `sslmode` (default `prefer`) and
    /// `sslrootcert` (an absolute path, or `system`); reads the certificate
    /// authorities a connection will trust.
    pub fn parse(url: &str) -> Result<Address, AddressError> {
        let (rest, mode, rootcert) = split_tls_params(url)?;
        let mut config: postgres::Config = rest
            .parse()
            .map_err(|e: postgres::Error| AddressError::NotAnAddress(chain(&e)))?;
        let mode = mode.unwrap_or(SslMode::Prefer);
        let tls = |m: String| Err(AddressError::Tls(m));
        let roots = match (rootcert.as_deref(), mode) {
            (_, SslMode::Disable) => None,
            (Some("system"), SslMode::VerifyFull) | (None, SslMode::VerifyFull) => {
                Some(Roots::System(system_bundle()))
            }
            (Some("system"), m) => {
                return tls(format!(
                    "sslrootcert=system trusts every certificate authority of this machine, which only sslmode=verify-full makes safe (it checks the host name too); expected sslmode=verify-full, got sslmode={}",
                    m.as_str()
                ))
            }
            (Some(path), _) => {
                let path = PathBuf::from(path);
                if !path.is_absolute() {
                    return tls(format!(
                        "sslrootcert {} is not an absolute path; expected the full path of the PEM file of the certificate authority that signed the server's certificate, such as /etc/juru/db-ca.pem",
                        path.display()
                    ));
                }
                Some(Roots::File(path))
            }
            (None, SslMode::VerifyCa) => {
                return tls(
                    "sslmode=verify-ca needs sslrootcert, the PEM file of the certificate authority that signed the server's certificate (such as sslrootcert=/etc/juru/db-ca.pem): without it, any certificate a public authority signed would do".into(),
                )
            }
            (None, _) => None,
        };
        let trusted = match &roots {
            None => None,
            Some(r) => Some(Arc::new(read_roots(r).map_err(AddressError::Tls)?)),
        };
        config.ssl_mode(match mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        // libpq never uses TLS over a Unix socket.
        let hosts = config.get_hosts();
        if !hosts.is_empty()
            && hosts
                .iter()
                .all(|h| matches!(h, postgres::config::Host::Unix(_)))
        {
            config.ssl_mode(postgres::config::SslMode::Disable);
        }
        Ok(Address {
            config,
            mode,
            roots,
            trusted,
        })
    }

    /// The hosts of the address, for messages.
    fn hosts(&self) -> String {
        let names: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .filter_map(|h| match h {
                postgres::config::Host::Tcp(name) => Some(name.clone()),
                postgres::config::Host::Unix(_) => None,
            })
            .collect();
        names.join(", ")
    }

    /// The rustls settings of a connection: the provider is ring, whatever another
    /// part of the process installed as the default.
    fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = match &self.trusted {
            Some(roots) => Some(
                WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot prepare TLS: {e}"))?,
            ),
            None => None,
        };
        let verifier = Verifier {
            chain,
            check_name: self.mode == SslMode::VerifyFull,
            provider: provider.clone(),
        };
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot prepare TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    }

    /// Says in one sentence why a connection failed when TLS is the reason.
    fn explain(&self, e: &postgres::Error) -> Option<String> {
        if let Some(tls) = rustls_error(e) {
            return Some(match tls {
                rustls::Error::InvalidCertificate(c) => match c {
                    CertificateError::UnknownIssuer => {
                        let roots = self.roots.as_ref()?;
                        format!("the server's certificate is not signed by {roots}")
                    }
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. } => format!(
                        "the server's certificate does not name the host {} (sslmode=verify-full checks the host name; connect by a name the certificate holds)",
                        self.hosts()
                    ),
                    CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                        "the server's certificate has expired".to_string()
                    }
                    CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. } => {
                        "the server's certificate is not valid yet (is this machine's clock right?)"
                            .to_string()
                    }
                    _ => format!("the server's certificate is refused ({tls})"),
                },
                other => format!("the TLS handshake with the server failed: {other}"),
            });
        }
        if chain(e).contains("server does not support TLS") {
            return Some(format!(
                "the server does not offer TLS and sslmode={} requires it",
                self.mode.as_str()
            ));
        }
        None
    }
}

/// Connects (blocking) with the address's TLS settings; an error is one sentence
/// about what went wrong, without the address.
pub fn connect(address: &Address) -> Result<postgres::Client, String> {
    let result = match address.config.get_ssl_mode() {
        postgres::config::SslMode::Disable => {
            super::db::blocking_pg(|| address.config.connect(postgres::NoTls))
        }
        _ => {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(address.client_config()?);
            super::db::blocking_pg(|| address.config.connect(tls))
        }
    };
    result.map_err(|e| {
        address
            .explain(&e)
            .unwrap_or_else(|| match e.as_db_error() {
                Some(_) => format!("cannot connect: {}", super::db::DbError::from(e)),
                None => format!("cannot connect: {}", chain(&e)),
            })
    })
}

/// An error with its causes ("error performing TLS handshake: …").
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text = format!("{text}: {more}");
        }
        next = cause.source();
    }
    text
}

/// Takes `sslmode` and `sslrootcert` out of the query of `url`: the rest, the mode
/// and the root certificate value. The query starts at the first `?` after the
/// credentials, as the `postgres` crate reads it.
fn split_tls_params(url: &str) -> Result<(String, Option<SslMode>, Option<String>), AddressError> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let from = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    let Some(q) = url[from..].find('?').map(|i| from + i) else {
        return Ok((url.to_string(), None, None));
    };
    let (mut mode, mut rootcert) = (None, None);
    let mut kept = Vec::new();
    for pair in url[q + 1..].split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| AddressError::NotAnAddress(format!("{key}: not UTF-8 once decoded")))
        };
        match decode(key)?.as_str() {
            "sslmode" => {
                let value = decode(value)?;
                mode = Some(SslMode::parse(&value).ok_or_else(|| {
                    AddressError::Tls(if value == "allow" {
                        format!("sslmode=allow (plain first, TLS if the server insists) is not supported; expected {MODES} (prefer uses TLS when the server offers it)")
                    } else {
                        format!("sslmode \"{value}\" is not a TLS mode; expected {MODES}")
                    })
                })?);
            }
            "sslrootcert" => rootcert = Some(decode(value)?),
            _ => kept.push(pair),
        }
    }
    let mut rest = url[..q].to_string();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, mode, rootcert))
}

/// The PEM bundle of this machine's trusted roots: `SSL_CERT_FILE`, else the first
/// of the usual places that exists (Debian's first).
fn system_bundle() -> PathBuf {
    if let Some(p) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    const PLACES: [&str; 3] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ];
    PLACES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .unwrap_or(Path::new(PLACES[0]))
        .to_path_buf()
}

/// The certificates of a PEM file as trust anchors.
fn read_roots(roots: &Roots) -> Result<RootCertStore, String> {
    let (path, what, expected) = match roots {
        Roots::File(p) => (
            p,
            "sslrootcert",
            "expected a PEM file of the certificate authority that signed the server's certificate",
        ),
        Roots::System(p) => (
            p,
            "this machine's trusted roots",
            "name the PEM file of the certificate authority that signed the server's certificate in sslrootcert",
        ),
    };
    let bytes = std::fs::read(path)
        .map_err(|e| format!("{what} {} cannot be read ({e}); {expected}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {} is not PEM ({e}); {expected}", path.display()))?;
    let mut store = RootCertStore::empty();
    let (_, refused) = store.add_parsable_certificates(certs);
    if store.is_empty() {
        return Err(format!(
            "{what} {} holds no certificate{}; {expected}",
            path.display(),
            if refused > 0 { " that can be read" } else { "" }
        ));
    }
    Ok(store)
}

/// Checks the server's certificate as the mode asks: the chain to the trusted roots
/// when there are any, the host name with `verify-full`, nothing else otherwise. The
/// handshake's signatures are always checked.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // rustls checks the chain first, then the name: a wrong name means the
        // chain was right.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls error inside a connection error, if TLS failed.
fn rustls_error(e: &postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_error(url: &str) -> String {
        match Address::parse(url) {
            Err(AddressError::Tls(m)) => m,
            Err(other) => panic!("{url}: not a TLS error: {other:?}"),
            Ok(_) => panic!("{url}: accepted"),
        }
    }

    fn ca_file(dir: &Path) -> PathBuf {
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("a certificate");
        let path = dir.join("ca.pem");
        std::fs::write(&path, cert.pem()).expect("written");
        path
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_the_address() {
        let dir = tempfile::tempdir().expect("a folder");
        let ca = ca_file(dir.path());
        let a = Address::parse(&format!(
            "postgres://juru:a%3Fb@db.example:5433/juru?application_name=x&sslmode=verify-full&sslrootcert={}&connect_timeout=5",
            ca.display()
        ))
        .expect("an address");
        assert_eq!(a.mode, SslMode::VerifyFull);
        assert_eq!(a.roots, Some(Roots::File(ca.clone())));
        assert_eq!(a.config.get_password(), Some(&b"a?b"[..]));
        assert_eq!(a.config.get_application_name(), Some("x"));
        assert_eq!(
            a.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
        assert_eq!(a.config.get_ssl_mode(), postgres::config::SslMode::Require);

        // A password may hold a `?` the query does not start at.
        let a = Address::parse("postgres://juru:a?b@db/juru?sslmode=require").expect("parsed");
        assert_eq!(a.config.get_password(), Some(&b"a?b"[..]));
        assert_eq!(a.mode, SslMode::Require);
        assert_eq!(a.roots, None);

        // libpq's default is prefer; disable stays plain.
        let a = Address::parse("postgres://juru@db/juru").expect("parsed");
        assert_eq!(
            (a.mode, a.config.get_ssl_mode()),
            (SslMode::Prefer, postgres::config::SslMode::Prefer)
        );
        let a = Address::parse("postgresql://juru@db/juru?sslmode=disable").expect("parsed");
        assert_eq!(a.config.get_ssl_mode(), postgres::config::SslMode::Disable);

        // verify-ca checks the chain, not the name; require with a root file checks the chain.
        let escaped = ca.display().to_string().replace('/', "%2F");
        let a = Address::parse(&format!(
            "postgres://juru@db/juru?sslmode=require&sslrootcert={escaped}"
        ))
        .expect("parsed");
        assert_eq!(a.roots, Some(Roots::File(ca)));

        // verify-full without sslrootcert trusts the machine's roots.
        let a = Address::parse("postgres://juru@db/juru?sslmode=verify-full").expect("parsed");
        assert!(matches!(a.roots, Some(Roots::System(_))), "{:?}", a.roots);

        // A Unix socket never uses TLS.
        let a = Address::parse("postgres://juru@%2Frun%2Fpostgresql/juru?sslmode=require")
            .expect("parsed");
        assert_eq!(a.config.get_ssl_mode(), postgres::config::SslMode::Disable);
    }

    #[test]
    fn bad_tls_values_are_one_sentence() {
        assert_eq!(
            tls_error("postgres://juru@db/juru?sslmode=sometimes"),
            "sslmode \"sometimes\" is not a TLS mode; expected disable, prefer, require, verify-ca or verify-full"
        );
        assert!(tls_error("postgres://juru@db/juru?sslmode=allow").contains("not supported"));
        let e = tls_error("postgres://juru@db/juru?sslmode=verify-full&sslrootcert=/tidak/ada.pem");
        assert!(
            e.starts_with("sslrootcert /tidak/ada.pem cannot be read (No such file"),
            "{e}"
        );
        assert!(
            tls_error("postgres://juru@db/juru?sslmode=verify-ca&sslrootcert=ca.pem")
                .contains("not an absolute path")
        );
        assert!(
            tls_error("postgres://juru@db/juru?sslmode=verify-ca").contains("needs sslrootcert")
        );
        assert!(
            tls_error("postgres://juru@db/juru?sslmode=require&sslrootcert=system")
                .contains("expected sslmode=verify-full, got sslmode=require")
        );
        let dir = tempfile::tempdir().expect("a folder");
        let empty = dir.path().join("kosong.pem");
        std::fs::write(&empty, "bukan sertifikat\n").expect("written");
        let e = tls_error(&format!(
            "postgres://juru@db/juru?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        ));
        assert!(e.contains("holds no certificate"), "{e}");
        // Not an address at all stays the crate's error, with its reason.
        assert_eq!(
            Address::parse("postgres://juru@db/juru?sslmode=require&sslcert=/c.pem")
                .err()
                .map(|e| e.to_string()),
            Some("not a PostgreSQL address (invalid connection string: unknown option `sslcert`); expected postgres://user@host:port/database".into())
        );
    }
}
