use super::*;
use std::path::{Path, PathBuf};

#[test]
fn full_example_parses() {
    let text = r#"
backend = "outbox"
from = "Name <addr@example.org>"
ansi_codepage = "windows-1252"
[outbox]
dir = "out"
[addressbook]
vcard = ["/path/contacts.vcf"]
[log]
file = "/tmp/mapishim.log"
level = "debug"
"#;
    let s = Settings::from_toml(text, Some(Path::new("/etc/mapishim/config.toml"))).unwrap();
    assert_eq!(s.outbox_dir, PathBuf::from("/etc/mapishim/out"));
    assert_eq!(s.from.unwrap().address, "addr@example.org");
    assert_eq!(s.decoder.ansi_name(), "windows-1252");
    assert_eq!(s.log_level, "debug");
}

#[test]
fn unknown_key_names_line_and_key() {
    let text = "backend = \"outbox\"\n[outbox]\ndir = \"/x\"\ndirectory = \"/y\"\n";
    let e = Settings::from_toml(text, Some(Path::new("c.toml"))).unwrap_err();
    assert_eq!(e.line, Some(4));
    assert_eq!(e.key.as_deref(), Some("directory"));
    assert!(
        e.to_string().starts_with("c.toml:4: key `directory`"),
        "{e}"
    );
}

#[test]
fn bad_values_name_their_key() {
    let e = Settings::from_toml("\n\nfrom = \"not an address\"\n", None).unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("from")));
    let e = Settings::from_toml("ansi_codepage = \"klingon\"\n", None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("ansi_codepage"));
    let e = Settings::from_toml("[log]\nlevel = \"loud\"\n", None).unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("log.level")));
    let e = Settings::from_toml("backend = \"carrier-pigeon\"\n", None).unwrap_err();
    assert_eq!(e.line, Some(1));
}

#[test]
fn smtp_rules() {
    let ok = Settings::from_toml(
        "backend = \"smtp\"\n[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n",
        None,
    )
    .unwrap();
    assert_eq!(ok.smtp.unwrap().port, 25);
    let e = Settings::from_toml("backend = \"smtp\"\n", None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("smtp"));
    let e = Settings::from_toml(
        "[smtp]\nhost = \"mail.example.org\"\nsecurity = \"none\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("smtp.security"));
    let e = Settings::from_toml(
        "[smtp]\nhost = \"localhost\"\nsecurity = \"none\"\nusername = \"u\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("smtp.username"));
    let s = Settings::from_toml(
        "[smtp]\nhost = \"mail.example.org\"\nusername = \"u\"\npassword = \"p\"\n",
        None,
    )
    .unwrap();
    assert_eq!(s.warnings.len(), 1);
    assert!(
        !format!("{:?}", s.smtp).contains("\"p\""),
        "passwords never reach Debug output"
    );
}

#[test]
fn mailbox_section() {
    let text = "[mailbox]\nmaildir = \"Mail/INBOX\"\ntrash = \"/m/Trash\"\n";
    let s = Settings::from_toml(text, Some(Path::new("/etc/mapishim/config.toml"))).unwrap();
    let m = s.mailbox.unwrap();
    assert_eq!(m.maildir, PathBuf::from("/etc/mapishim/Mail/INBOX"));
    assert_eq!(m.drafts, None);
    assert_eq!(m.trash, Some(PathBuf::from("/m/Trash")));
    assert!(Settings::from_toml("", None).unwrap().mailbox.is_none());

    let e = Settings::from_toml("[mailbox]\nmaildir = \"/m\"\nsent = \"/s\"\n", None).unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("sent")));
    let e = Settings::from_toml("\n[mailbox]\ndrafts = \"/d\"\n", None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("maildir"), "{e}");
    assert_eq!(e.line, Some(2), "{e}");
    let e = Settings::from_toml("[mailbox]\nmaildir = \"/m\"\ntrash = \"\"\n", None).unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("mailbox.trash")));
}

#[test]
fn composer_and_routes() {
    let e = Settings::from_toml("[composer]\nkind = \"mailto\"\nretention_hours = 0\n", None)
        .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("composer.retention_hours"));
    let e =
        Settings::from_toml("[[route]]\napp = \"x*\"\nbackend = \"forward\"\n", None).unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("route.backend")));
    let s = Settings::from_toml(
        "[composer]\nkind = \"thunderbird\"\nprogram = \"/opt/tb\"\n[[route]]\napp = \"SAGE*.exe\"\ncomposer = \"mailto\"\n[[route]]\napp = \"scan*\"\ncomposer = \"none\"\n",
        None,
    )
    .unwrap();
    let sage = s.clone().for_app("sage50.EXE");
    let composer = sage.composer.unwrap();
    assert_eq!(
        (composer.kind, composer.program),
        (ComposerKind::Mailto, None)
    );
    assert!(s.clone().for_app("scanner").composer.is_none());
    let other = s.for_app("writer.exe").composer.unwrap();
    assert_eq!(other.program, Some(PathBuf::from("/opt/tb")));
}

#[test]
fn named_but_missing_file_is_an_error() {
    let missing = ConfigSource::named(PathBuf::from("/nonexistent/mapishim.toml"));
    assert!(missing.load().is_err());
    let absent_default = ConfigSource {
        files: vec![ConfigFile {
            origin: Origin::User,
            path: PathBuf::from("/nonexistent/mapishim.toml"),
            named_by: None,
        }],
    };
    assert!(absent_default.load().is_ok());
}

#[test]
fn backend_and_composer_tables_match_the_file_names() {
    for spec in BACKENDS {
        let s = Settings::from_toml(&format!("backend = {:?}\n", spec.name), None);
        // Parsing may fail for want of a section, never for an unknown name.
        match s {
            Ok(s) => assert_eq!(s.backend, spec.kind),
            Err(e) => assert!(e.message.contains("section"), "{}: {e}", spec.name),
        }
        assert_eq!(spec.kind.name(), spec.name);
    }
    for (kind, name) in COMPOSER_KINDS {
        let text = format!("[[route]]\napp = \"x\"\ncomposer = {name:?}\n");
        let s = Settings::from_toml(&text, None).unwrap();
        assert_eq!(s.routes[0].composer, Some(*kind));
        assert_eq!(kind.name(), *name);
    }
}

#[test]
fn ca_file_must_hold_a_pem_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let text = |ca: &str| format!("[smtp]\nhost = \"mail.example.org\"\nca_file = {ca:?}\n");
    let e = Settings::from_toml(&text("missing.pem"), Some(&config)).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(3), Some("smtp.ca_file")),
        "{e}"
    );
    assert!(e.message.contains("cannot read"), "{e}");
    std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
    let e = Settings::from_toml(&text("empty.pem"), Some(&config)).unwrap_err();
    assert!(e.message.contains("holds no PEM certificate"), "{e}");
    std::fs::write(
        dir.path().join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let s = Settings::from_toml(&text("ca.pem"), Some(&config)).unwrap();
    assert_eq!(s.smtp.unwrap().ca_file, Some(dir.path().join("ca.pem")));
}

#[cfg(unix)]
#[test]
fn a_plain_password_in_a_file_others_can_read_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let text = "[smtp]\nhost = \"mail.example.org\"\nusername = \"u\"\npassword = \"p\"\n";
    std::fs::write(&config, text).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Settings::from_toml(text, Some(&config)).unwrap();
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(
        s.warnings[1].contains("readable by other users (mode 644)"),
        "{:?}",
        s.warnings
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = Settings::from_toml(text, Some(&config)).unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
}

#[test]
fn imap_preset_fills_the_server_and_the_drafts_url() {
    let text = "[composer]\nkind = \"drafts\"\n[imap]\nprovider = \"gmail\"\nusername = \"a@gmail.com\"\npassword_env = \"P\"\n";
    let s = Settings::from_toml(text, None).unwrap();
    let imap = s.imap.unwrap();
    assert_eq!((imap.host.as_str(), imap.port), ("imap.gmail.com", 993));
    assert_eq!(imap.security, Security::Tls);
    assert!(!imap.save_sent && imap.drafts_folder.is_none());
    assert_eq!(
        imap.preset_open(),
        Some("https://mail.google.com/mail/u/0/#drafts")
    );
    let composer = s.composer.unwrap();
    assert_eq!(
        (composer.kind, composer.via),
        (ComposerKind::Drafts, DraftsVia::Imap)
    );
    for (provider, _) in IMAP_PRESETS {
        assert!(provider.preset().open.starts_with("https://"));
    }
}

#[test]
fn imap_starttls_defaults_to_143_and_insecure_only_to_loopback() {
    let base = "[imap]\nusername = \"u\"\npassword_env = \"P\"\n";
    let s = Settings::from_toml(
        &format!("{base}host = \"h\"\nsecurity = \"starttls\"\n"),
        None,
    )
    .unwrap();
    assert_eq!(s.imap.unwrap().port, 143);
    let e = Settings::from_toml(
        &format!("{base}host = \"imap.example.org\"\nsecurity = \"none\"\n"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("imap.security"));
    assert!(e.to_string().contains("loopback"), "{e}");
    assert!(
        Settings::from_toml(
            &format!("{base}host = \"::1\"\nsecurity = \"none\"\n"),
            None
        )
        .is_ok()
    );
    assert!(
        Settings::from_toml(
            &format!(
                "{base}host = \"imap.example.org\"\nsecurity = \"none\"\nallow_insecure = true\n"
            ),
            None
        )
        .is_ok()
    );
}

#[test]
fn imap_credentials_are_checked_like_smtp() {
    let e = Settings::from_toml("[imap]\nhost = \"h\"\nusername = \"u\"\n", None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("imap.password"));
    let e = Settings::from_toml(
        "[imap]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\npassword_command = [\"x\"]\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("imap.password"));
    let e = Settings::from_toml(
        "[imap]\nhost = \"h\"\nusername = \"u\"\nauth = \"xoauth2\"\noauth2_token_command = [\"t\"]\npassword_env = \"P\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("imap.auth"));
    let s = Settings::from_toml(
        "[imap]\nhost = \"h\"\nusername = \"u\"\nauth = \"oauthbearer\"\noauth2_token_command = [\"t\"]\n",
        None,
    )
    .unwrap();
    assert_eq!(s.imap.unwrap().auth, SmtpAuth::Oauthbearer);
}

#[test]
fn drafts_needs_imap_or_usable_graph() {
    let e = Settings::from_toml("[composer]\nkind = \"drafts\"\n", None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("imap"));
    // via = "graph" needs no [imap]: [graph] (defaults when absent) and its tokens.
    let drafts = "[composer]\nkind = \"drafts\"\nvia = \"graph\"\n";
    let e = Settings::from_toml(drafts, None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oauth2"));
    let s = Settings::from_toml(&format!("{drafts}[oauth2]\nclient_id = \"app\"\n"), None).unwrap();
    let (composer, graph) = (s.composer.unwrap(), s.graph.unwrap());
    assert_eq!(
        (composer.kind, composer.via, composer.open),
        (ComposerKind::Drafts, DraftsVia::Graph, None)
    );
    assert_eq!(graph.endpoint, DEFAULT_GRAPH_ENDPOINT);
    // Creating a message needs Mail.ReadWrite besides Mail.Send.
    assert_eq!(
        s.oauth2.unwrap().scopes,
        [
            "https://graph.microsoft.com/Mail.Send",
            "https://graph.microsoft.com/Mail.ReadWrite",
            "offline_access"
        ]
    );
    let s = Settings::from_toml(
        &format!("{drafts}open = \"{{weblink}}\"\n[graph]\noauth2_token_command = [\"t\"]\n"),
        None,
    )
    .unwrap();
    assert_eq!(s.composer.unwrap().open.as_deref(), Some("{weblink}"));
    assert!(s.oauth2.is_none() && s.imap.is_none());
    // {weblink} only comes from Graph.
    let e = Settings::from_toml(
        "[composer]\nkind = \"drafts\"\nopen = \"{weblink}\"\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("composer.open"));
    assert!(e.to_string().contains("via = \"graph\""), "{e}");
    let e = Settings::from_toml(
        "[composer]\nkind = \"mailto\"\nopen = \"https://x\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("composer.open"));
    let e = Settings::from_toml(
        "[composer]\nkind = \"drafts\"\nopen = \"file:///etc/passwd\"\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("composer.open"));
}

#[test]
fn graph_backend_defaults_presets_and_refusals() {
    let oauth2 = "[oauth2]\nclient_id = \"app\"\n";
    let s = Settings::from_toml(
        &format!("backend = \"graph\"\nfrom = \"a@contoso.com\"\n{oauth2}"),
        None,
    )
    .unwrap();
    let graph = s.graph.clone().unwrap();
    assert_eq!(graph.endpoint, DEFAULT_GRAPH_ENDPOINT);
    assert!(graph.save_to_sent && graph.provider == Provider::Microsoft365);
    let o = s.oauth2.unwrap();
    // Mail.ReadWrite for the drafts that large messages go through.
    assert_eq!(
        o.scopes,
        [
            "https://graph.microsoft.com/Mail.Send",
            "https://graph.microsoft.com/Mail.ReadWrite",
            "offline_access"
        ]
    );
    assert!(o.token_url.contains("/common/"), "{}", o.token_url);
    assert!(o.token_file.ends_with("tokens/a@contoso.com.json"));

    // outlook.com signs in through the consumers tenant; a trailing / is dropped.
    let s = Settings::from_toml(
        &format!("backend = \"graph\"\n[graph]\nprovider = \"outlook.com\"\nendpoint = \"http://127.0.0.1:9/v1.0/\"\nsave_to_sent = false\n{oauth2}"),
        None,
    )
    .unwrap();
    assert_eq!(
        s.graph.as_ref().unwrap().endpoint,
        "http://127.0.0.1:9/v1.0"
    );
    assert!(s.oauth2.unwrap().token_url.contains("/consumers/"));

    // A token command needs no [oauth2]; no source at all is an error naming both.
    let s = Settings::from_toml(
        "backend = \"graph\"\n[graph]\noauth2_token_command = [\"pizauth\", \"show\", \"o\"]\n",
        None,
    )
    .unwrap();
    assert!(s.oauth2.is_none() && s.graph.unwrap().oauth2_token_command.is_some());
    let e = Settings::from_toml("backend = \"graph\"\n", None).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oauth2"));
    assert!(
        e.to_string().contains("[graph] oauth2_token_command"),
        "{e}"
    );

    for (text, key) in [
        (
            "[graph]\nendpoint = \"http://graph.example.org/v1.0\"\n",
            "graph.endpoint",
        ),
        ("[graph]\nprovider = \"gmail\"\n", "graph.provider"),
        (
            "[graph]\noauth2_token_command = []\n",
            "graph.oauth2_token_command",
        ),
    ] {
        let e =
            Settings::from_toml(&format!("backend = \"graph\"\n{text}{oauth2}"), None).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
    }
    // Not used, no section: nothing.
    assert!(Settings::from_toml("", None).unwrap().graph.is_none());
}

#[test]
fn window_composer_is_a_kind_and_windows_only() {
    let s = Settings::from_toml("[composer]\nkind = \"window\"\n", None).unwrap();
    assert_eq!(s.composer.unwrap().kind, ComposerKind::Window);
    let note = window_unavailable();
    if cfg!(windows) {
        assert_eq!(note, None);
    } else {
        let note = note.unwrap();
        assert!(note.contains("Windows-only"), "{note}");
        for other in ["xdg-email", "thunderbird", "mailto", "auto", "drafts"] {
            assert!(note.contains(other), "{note}");
        }
    }
}
