//! Building messages and the outbox with the file transport (SMTP delivery is
//! tested against a real server in tests/it/mail.rs).

use super::*;
use chrono::Utc;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn mail(attachment: &str) -> Mail {
    Mail {
        to: vec!["Loket Izin <loket@example.go.id>".into()],
        cc: vec!["kabid@example.go.id".into()],
        subject: "[juru] demo: 2 selesai".into(),
        text: "Halo".into(),
        html: "<p>Halo</p>".into(),
        attachments: vec![Attachment::new(attachment, b"PK\x03\x04".to_vec())],
    }
}

fn raw(m: &Mail) -> String {
    String::from_utf8(build("juru <juru@localhost>", m).unwrap().formatted()).unwrap()
}

#[test]
fn builds_multipart_with_attachment() {
    let raw = raw(&mail("exceptions.xlsx"));
    assert!(
        raw.contains("To: \"Loket Izin\" <loket@example.go.id>")
            || raw.contains("To: Loket Izin <loket@example.go.id>"),
        "{raw}"
    );
    assert!(raw.contains("Cc: kabid@example.go.id"), "{raw}");
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("filename=\"exceptions.xlsx\""), "{raw}");
    assert!(
        raw.contains(&format!(
            "Content-Type: {XLSX};\r\n name=\"exceptions.xlsx\""
        )),
        "{raw}"
    );
}

#[test]
fn non_ascii_attachment_name_is_encoded_both_ways() {
    let raw = raw(&mail("Laporan Pengecualian – Dinas Perizinan.xlsx"));
    assert!(raw.is_ascii(), "headers must be 7-bit: {raw}");
    // RFC 2231 in Content-Disposition (lettre), RFC 2047 in Content-Type (ours).
    assert!(raw.contains("filename*"), "{raw}");
    assert!(raw.contains("%E2%80%93"), "{raw}");
    assert!(raw.contains("name=\"=?utf-8?b?"), "{raw}");
    let word = encoded_word("Laporan Pengecualian – Dinas Perizinan.xlsx");
    assert_eq!(
        word,
        "=?utf-8?b?TGFwb3JhbiBQZW5nZWN1YWxpYW4g4oCTIERpbmFzIFBlcml6aW5hbi54bHN4?="
    );
}

#[test]
fn base64_matches_the_standard() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("–", "4oCT"),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
    }
}

#[test]
fn content_types_by_extension() {
    assert_eq!(content_type_for("Laporan.XLSX"), XLSX);
    assert_eq!(content_type_for("bukti-001.png"), "image/png");
    assert_eq!(content_type_for("data.csv"), "text/csv");
    assert_eq!(
        content_type_for("tanpa-ekstensi"),
        "application/octet-stream"
    );
}

#[test]
fn bad_address_is_named() {
    let m = Mail {
        to: vec!["loket at example".into()],
        ..Mail::default()
    };
    let err = build("juru@localhost", &m).unwrap_err();
    assert!(err.to_string().contains("\"loket at example\""), "{err}");
    let err = build("juru@localhost", &Mail::default()).unwrap_err();
    assert!(matches!(err, MailError::NoRecipient), "{err}");
}

#[test]
fn secret_variable_follows_the_script_rule() {
    assert_eq!(
        secret_variable("smtp_password"),
        "JURU_SECRET_SMTP_PASSWORD"
    );
    assert_eq!(
        secret_variable("smtp.pass-word"),
        "JURU_SECRET_SMTP_PASS_WORD"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn outbox_queues_then_the_file_transport_moves_to_sent() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path().join("outbox"));
    let m = mail("exceptions.xlsx");
    let a = outbox
        .enqueue(
            "juru <juru@localhost>",
            &m,
            "20261127-100000-izin.summary",
            "summary",
            Some("20261127-100000-izin"),
        )
        .unwrap();
    let b = outbox
        .enqueue(
            "juru <juru@localhost>",
            &m,
            "20261127-100000-izin.summary",
            "summary",
            None,
        )
        .unwrap();
    assert_eq!(a.id, "20261127-100000-izin.summary");
    assert_eq!(b.id, "20261127-100000-izin.summary-2");
    assert_eq!(a.from, "juru@localhost");
    assert_eq!(a.to, vec!["loket@example.go.id", "kabid@example.go.id"]);
    let pending = outbox.entries(Folder::Pending).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(outbox.eml(Folder::Pending, &a.id).is_file());

    // Only the run's own message.
    let rt = runtime();
    let settings = Settings::default();
    let run = rt
        .block_on(outbox.flush(&settings, outbox::Flush::Run("20261127-100000-izin")))
        .unwrap();
    assert_eq!(run.len(), 1);
    let first = run[0].as_ref().unwrap();
    assert_eq!(first.outcome, Outcome::Written);
    assert_eq!(first.path, outbox.eml(Folder::Sent, &a.id));
    assert!(first.path.is_file());
    assert!(!outbox.eml(Folder::Pending, &a.id).exists());
    assert_eq!(first.entry.to, Vec::<String>::new());
    assert_eq!(first.entry.delivered.len(), 2);
    assert_eq!(first.entry.attempts, 1);

    // Delivering again finds it sent; the other one is still pending.
    let again = rt.block_on(outbox.deliver(&settings, &a.id)).unwrap();
    assert_eq!(again.outcome, Outcome::NotPending);
    assert_eq!(again.entry.folder, Folder::Sent);
    assert_eq!(outbox.entries(Folder::Pending).unwrap().len(), 1);
    let all = rt
        .block_on(outbox.flush(&settings, outbox::Flush::All))
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(outbox.entries(Folder::Sent).unwrap().len(), 2);
    assert!(outbox.entries(Folder::Pending).unwrap().is_empty());
    // No temporary or lock files beside the messages.
    let names: Vec<String> = std::fs::read_dir(outbox.dir().join("sent"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".eml") || n.ends_with(".json")),
        "{names:?}"
    );
}

#[test]
fn unreachable_server_keeps_the_message_pending_with_a_next_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path());
    let e = outbox
        .enqueue("juru@localhost", &mail("a.csv"), "x", "script", None)
        .unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = Settings {
        transport: Transport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: Tls::None,
            username: None,
            password_secret: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
        }),
        ..Settings::default()
    };
    let rt = runtime();
    let a = rt.block_on(outbox.deliver(&settings, &e.id)).unwrap();
    match &a.outcome {
        Outcome::Waiting {
            reason,
            next_attempt: Some(at),
        } => {
            assert_eq!(
                reason,
                &format!("cannot connect to 127.0.0.1:{port}: connection refused")
            );
            assert!(*at > Utc::now(), "{at}");
        }
        other => panic!("{other:?}"),
    }
    let kept = outbox.find(&e.id).unwrap().unwrap();
    assert_eq!(kept.folder, Folder::Pending);
    assert_eq!(kept.attempts, 1);
    assert_eq!(kept.to.len(), 2);
    // Not due yet for the agent; a person's flush tries it anyway.
    let due = rt
        .block_on(outbox.flush(&settings, outbox::Flush::Due(Utc::now())))
        .unwrap();
    assert!(due.is_empty());
    let all = rt
        .block_on(outbox.flush(&settings, outbox::Flush::All))
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(outbox.find(&e.id).unwrap().unwrap().attempts, 2);
}

#[test]
fn an_old_failing_message_is_given_up_by_the_agent_and_can_be_requeued() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).with_policy(RetryPolicy {
        give_up_after: Duration::ZERO,
        ..RetryPolicy::default()
    });
    let e = outbox
        .enqueue("juru@localhost", &mail("a.csv"), "x", "script", None)
        .unwrap();
    let settings = Settings {
        transport: Transport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port: 9,
            tls: Tls::Implicit,
            username: Some("juru".into()),
            password_secret: Some("no_such_secret_for_juru_tests".into()),
            ca_file: None,
            timeout: Duration::from_secs(5),
        }),
        ..Settings::default()
    };
    let rt = runtime();
    let done = rt
        .block_on(outbox.flush(&settings, outbox::Flush::Due(Utc::now())))
        .unwrap();
    let a = done[0].as_ref().unwrap();
    match &a.outcome {
        Outcome::GaveUp { reason } => assert!(
            reason.contains("JURU_SECRET_NO_SUCH_SECRET_FOR_JURU_TESTS"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(outbox.find(&e.id).unwrap().unwrap().folder, Folder::Failed);
    let back = outbox.requeue(&e.id).unwrap();
    assert_eq!(back.folder, Folder::Pending);
    assert_eq!(back.attempts, 0);
    assert!(outbox.eml(Folder::Pending, &e.id).is_file());
    assert!(!outbox.eml(Folder::Failed, &e.id).exists());
}

#[test]
fn queued_messages_carry_a_message_id_from_the_outbox_id_and_a_local_date() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).with_time_zone(chrono_tz::Asia::Jakarta);
    let e = outbox
        .enqueue(
            "juru <juru@dinas.example.go.id>",
            &mail("exceptions.xlsx"),
            "20261127-100000-izin.exceptions",
            "exceptions",
            None,
        )
        .unwrap();
    let raw = std::fs::read_to_string(outbox.eml(Folder::Pending, &e.id)).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert_eq!(
        head.matches("Message-ID: <20261127-100000-izin.exceptions@dinas.example.go.id>\r\n")
            .count(),
        1,
        "{head}"
    );
    assert_eq!(head.to_ascii_lowercase().matches("message-id:").count(), 1);
    let dates: Vec<&str> = head.lines().filter(|l| l.starts_with("Date: ")).collect();
    assert_eq!(dates.len(), 1, "{head}");
    assert!(dates[0].ends_with(" +0700"), "{head}");
    assert_eq!(
        outbox::message_id("x", "juru"),
        "<x@localhost>",
        "an address without domain"
    );
}

#[test]
fn starttls_required_from_a_server_without_it_is_refused_at_once() {
    // A plain SMTP server on loopback that offers no STARTTLS.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        let (stream, _) = listener.accept().unwrap();
        let mut out = stream.try_clone().unwrap();
        let mut lines = BufReader::new(stream);
        out.write_all(b"220 test ESMTP\r\n").unwrap();
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap_or(0) > 0 {
            let reply: &[u8] = match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                Some("EHLO") => b"250-test\r\n250 SIZE 1000000\r\n",
                Some("QUIT") => b"221 bye\r\n",
                _ => b"502 no\r\n",
            };
            if out.write_all(reply).is_err() || line.starts_with("QUIT") {
                break;
            }
            line.clear();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path());
    let e = outbox
        .enqueue("juru@localhost", &mail("a.csv"), "x", "script", None)
        .unwrap();
    let settings = Settings {
        transport: Transport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: Tls::StartTls,
            username: None,
            password_secret: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
        }),
        ..Settings::default()
    };
    let a = runtime()
        .block_on(outbox.deliver(&settings, &e.id))
        .unwrap();
    match &a.outcome {
        Outcome::Refused { answer } => assert!(
            answer.starts_with(&format!(
                "configuration error: 127.0.0.1:{port} does not offer STARTTLS"
            )),
            "{answer}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.entry.folder, Folder::Failed);
    drop(server);
}
