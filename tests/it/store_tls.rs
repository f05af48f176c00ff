//! TLS to a PostgreSQL store: a throwaway cluster with `ssl = on` and a server
//! certificate for `localhost` signed by a test CA, and the plain shared cluster.
//! Each `sslmode` is checked with real connections: whether the session is
//! encrypted (`pg_stat_ssl`), and the sentence a refused connection gives.

use std::path::PathBuf;
use std::sync::OnceLock;

use juru::store::throwaway::{Cluster, ServerTls};
use juru::store::{Location, NewItem, NewRun, Store};

use crate::support::Project;

/// The TLS cluster of this test process, its CA's file and another CA's file.
struct Tls {
    cluster: Cluster,
    ca: PathBuf,
    wrong_ca: PathBuf,
    _dir: tempfile::TempDir,
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a folder");
        let issuer = |name: &str| {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("a key"))
                .expect("a CA")
        };
        let ca = issuer("juru test CA");
        let wrong = issuer("another CA");
        // The certificate names `localhost` only, not 127.0.0.1.
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("a server certificate");
        let cluster = Cluster::start_tls(ServerTls {
            cert: &cert.pem(),
            key: &key.serialize_pem(),
        })
        .unwrap_or_else(|e| panic!("the TLS test cluster: {e}"));
        let (ca_file, wrong_file) = (dir.path().join("ca.pem"), dir.path().join("wrong-ca.pem"));
        std::fs::write(&ca_file, ca.pem()).expect("written");
        std::fs::write(&wrong_file, wrong.pem()).expect("written");
        Tls {
            cluster,
            ca: ca_file,
            wrong_ca: wrong_file,
            _dir: dir,
        }
    })
}

/// A fresh database of `cluster` at `host`, with `query` after `?`.
fn url(cluster: &Cluster, host: &str, query: &str) -> String {
    let Location::Postgres { url, .. } = cluster
        .fresh_database("store_tls")
        .unwrap_or_else(|e| panic!("a test database: {e}"))
    else {
        unreachable!("fresh_database gives a PostgreSQL database")
    };
    let url = url.replacen("@127.0.0.1:", &format!("@{host}:"), 1);
    if query.is_empty() {
        url
    } else {
        format!("{url}?{query}")
    }
}

/// Whether a connection to `url` is encrypted, as the server sees it.
fn encrypted(url: &str) -> bool {
    let address = juru::store::tls::Address::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut client = juru::store::tls::connect(&address).unwrap_or_else(|e| panic!("{url}: {e}"));
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl")
        .get(0)
}

/// The error of opening a store at `url`.
fn refusal(url: &str) -> String {
    match Store::connect(Location::Postgres {
        url: url.to_string(),
        password: None,
    }) {
        Ok(_) => panic!("{url}: connected"),
        Err(e) => e.to_string(),
    }
}

fn shared() -> &'static Cluster {
    Cluster::shared().unwrap_or_else(|e| panic!("the test cluster: {e}"))
}

#[test]
fn each_sslmode_against_a_tls_server() {
    let t = tls();
    let ca = t.ca.display();

    // require: encrypted, no certificate check (the test CA is unknown here).
    assert!(encrypted(&url(&t.cluster, "127.0.0.1", "sslmode=require")));
    // prefer (also libpq's default): encrypted when the server offers TLS.
    assert!(encrypted(&url(&t.cluster, "127.0.0.1", "sslmode=prefer")));
    assert!(encrypted(&url(&t.cluster, "127.0.0.1", "")));
    // disable stays plain.
    assert!(!encrypted(&url(&t.cluster, "127.0.0.1", "sslmode=disable")));

    // verify-full: the chain to sslrootcert and the host name.
    assert!(encrypted(&url(
        &t.cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}")
    )));
    // verify-ca checks the chain only: 127.0.0.1 is not in the certificate.
    assert!(encrypted(&url(
        &t.cluster,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}")
    )));

    // Another CA's file: refused, whatever mode checks the chain.
    let wrong = t.wrong_ca.display();
    for mode in ["verify-full", "verify-ca", "require"] {
        let target = url(
            &t.cluster,
            "localhost",
            &format!("sslmode={mode}&sslrootcert={wrong}"),
        );
        assert_eq!(
            refusal(&target),
            format!("store {target}: the server's certificate is not signed by {wrong}")
        );
    }

    // verify-full without sslrootcert trusts this machine's roots, not the test CA.
    let target = url(&t.cluster, "localhost", "sslmode=verify-full");
    let refused = refusal(&target);
    assert!(
        refused.starts_with(&format!(
            "store {target}: the server's certificate is not signed by a certificate authority this machine trusts ("
        )),
        "{refused}"
    );

    // verify-full by an address the certificate does not name.
    let target = url(
        &t.cluster,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    assert_eq!(
        refusal(&target),
        format!("store {target}: the server's certificate does not name the host 127.0.0.1 (sslmode=verify-full checks the host name; connect by a name the certificate holds)")
    );
}

#[test]
fn a_password_over_verified_tls() {
    let t = tls();
    let target = url(&t.cluster, "localhost", "");
    let mut admin = postgres::Client::connect(&target, postgres::NoTls).expect("the admin");
    admin
        .batch_execute(
            "CREATE ROLE kasir LOGIN PASSWORD 'rahasia k@ta?'; GRANT CREATE ON SCHEMA public TO kasir",
        )
        .expect("a role");
    let kasir = target.replacen("//juru@", "//kasir@", 1);
    let open = |query: &str| {
        Store::open(Location::Postgres {
            url: format!("{kasir}?{query}"),
            password: Some("rahasia k@ta?".into()),
        })
    };
    // The password from a secret, SCRAM over a verified connection.
    let ca = t.ca.display();
    let store =
        open(&format!("sslmode=verify-full&sslrootcert={ca}")).unwrap_or_else(|e| panic!("{e}"));
    assert!(store
        .runs(None, 5)
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
    // The TLS session binds the SCRAM exchange to the server's certificate.
    drop(store);
    open(&format!(
        "sslmode=verify-full&sslrootcert={ca}&channel_binding=require"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    // The server takes this role over TLS only; the password never shows.
    let refused = open("sslmode=disable").err().expect("refused").to_string();
    assert!(refused.contains("no encryption"), "{refused}");
    assert!(!refused.contains("rahasia"), "{refused}");
    let refused = open("sslmode=require&sslrootcert=/tidak/ada.pem")
        .err()
        .expect("refused")
        .to_string();
    assert!(!refused.contains("rahasia"), "{refused}");
}

#[test]
fn each_sslmode_against_a_plain_server() {
    let plain = shared();
    for mode in ["require", "verify-full"] {
        let target = url(plain, "localhost", &format!("sslmode={mode}"));
        assert_eq!(
            refusal(&target),
            format!("store {target}: the server does not offer TLS and sslmode={mode} requires it")
        );
    }
    assert!(!encrypted(&url(plain, "127.0.0.1", "sslmode=prefer")));
    assert!(!encrypted(&url(plain, "127.0.0.1", "")));
    assert!(!encrypted(&url(plain, "127.0.0.1", "sslmode=disable")));
}

#[test]
fn a_store_on_a_verified_tls_address_migrates_and_begins_a_run() {
    let t = tls();
    let target = url(
        &t.cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", t.ca.display()),
    );
    let mut store = Store::open(Location::Postgres {
        url: target.clone(),
        password: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let run = NewRun {
        id: "r1",
        bot: "demo",
        trigger: "cli",
        input: "in.xlsx",
        dir: "runs/r1",
        started_at: "2026-11-29T10:00:00Z",
        headers: "[\"NIK\"]",
        vars: "{}",
        ..NewRun::default()
    };
    let item = NewItem {
        row: 2,
        data: "[\"1\"]".into(),
        submitted: false,
    };
    store
        .begin_run(&run, &[item])
        .unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    let store = Store::connect(Location::Postgres {
        url: target,
        password: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let runs = store.runs(None, 10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        runs.iter()
            .map(|r| (r.id.as_str(), r.total))
            .collect::<Vec<_>>(),
        [("r1", 1)]
    );
}

#[test]
fn the_cli_checks_tls_values_and_connects_with_verify_full() {
    let t = tls();
    // A mode libpq does not know is a configuration error (exit 2).
    let bad = Project::with_demo_bot();
    bad.write(
        "config/agent.toml",
        "[browser]\nheadless = true\n[store]\nurl = \"postgres://juru@localhost:5432/juru?sslmode=sometimes\"\n",
    );
    let run = bad.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains(
            "config/agent.toml:4:7: store.url: sslmode \"sometimes\" is not a TLS mode; expected disable, prefer, require, verify-ca or verify-full"
        ),
        "{run}"
    );
    // So is a CA file that cannot be read.
    bad.write(
        "config/agent.toml",
        "[store]\nurl = \"postgres://juru@localhost:5432/juru?sslmode=verify-full&sslrootcert=/tidak/ada.pem\"\n",
    );
    let run = bad.juru(&["store", "migrate"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains(
            "config/agent.toml:2:7: store.url: sslrootcert /tidak/ada.pem cannot be read ("
        ),
        "{run}"
    );

    // `juru store copy --to` reads the same address: a usage error (exit 2).
    let run = Project::new().juru(&[
        "store",
        "copy",
        "--to",
        "postgres://juru@localhost:5432/juru?sslmode=verify-ca",
    ]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("--to: sslmode=verify-ca needs sslrootcert"),
        "{run}"
    );

    // verify-full with the right CA: the schema is made over TLS.
    let good = Project::new();
    let target = url(
        &t.cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", t.ca.display()),
    );
    good.write(
        "config/agent.toml",
        &format!("[browser]\nheadless = true\n[store]\nurl = \"{target}\"\n"),
    );
    let run = good.juru(&["store", "migrate"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(run.stdout().contains("now at schema"), "{run}");

    // The wrong CA: refused with the sentence, no schema made.
    let wrong = url(
        &t.cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", t.wrong_ca.display()),
    );
    good.write(
        "config/agent.toml",
        &format!("[browser]\nheadless = true\n[store]\nurl = \"{wrong}\"\n"),
    );
    let run = good.juru(&["store", "migrate"]);
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        run.stderr().contains(&format!(
            "the server's certificate is not signed by {}",
            t.wrong_ca.display()
        )),
        "{run}"
    );
}
