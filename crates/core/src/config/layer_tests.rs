//! The machine file under the user's: merge, `locked`, and errors naming the right file.
use super::*;
use std::path::PathBuf;

/// A machine file and a user file in a scratch folder each (real files: `load` reads them).
struct Files {
    _dir: tempfile::TempDir,
    machine: PathBuf,
    user: PathBuf,
}

fn files(machine: &str, user: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let (m, u) = (dir.path().join("etc"), dir.path().join("home"));
    std::fs::create_dir_all(&m).unwrap();
    std::fs::create_dir_all(&u).unwrap();
    let (machine_path, user_path) = (m.join("config.toml"), u.join("config.toml"));
    std::fs::write(&machine_path, machine).unwrap();
    std::fs::write(&user_path, user).unwrap();
    Files {
        _dir: dir,
        machine: machine_path,
        user: user_path,
    }
}

fn source(f: &Files, machine_origin: Origin) -> ConfigSource {
    let file = |origin, path: &PathBuf| ConfigFile {
        origin,
        path: path.clone(),
        named_by: None,
    };
    ConfigSource {
        files: vec![
            file(machine_origin, &f.machine),
            file(Origin::User, &f.user),
        ],
    }
}

fn origin_of(s: &Settings, key: &str) -> (Origin, Option<(PathBuf, usize)>) {
    let found = s.key_sources.iter().find(|k| k.key == key).unwrap();
    (found.origin, found.at.clone())
}

const MACHINE: &str = "backend = \"smtp\"\nfrom = \"IT <it@example.org>\"\n[smtp]\nhost = \"mail.example.org\"\nport = 25\n[outbox]\ndir = \"spool\"\n";

#[test]
fn user_file_merges_over_the_machine_file_key_by_key() {
    let f = files(
        MACHINE,
        "from = \"Me <me@example.org>\"\n[smtp]\nport = 2525\n[addressbook]\nvcard = [\"contacts.vcf\"]\n",
    );
    let s = source(&f, Origin::Machine).load().unwrap();
    let smtp = s.smtp.as_ref().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.org", 2525));
    assert_eq!(s.from.as_ref().unwrap().address, "me@example.org");
    // Relative paths are relative to the file that holds them.
    assert_eq!(s.outbox_dir, f.machine.parent().unwrap().join("spool"));
    assert_eq!(
        s.vcards,
        vec![f.user.parent().unwrap().join("contacts.vcf")]
    );
    assert_eq!(s.path.as_deref(), Some(f.user.as_path()));
    assert_eq!(
        origin_of(&s, "smtp.host"),
        (Origin::Machine, Some((f.machine.clone(), 4)))
    );
    assert_eq!(
        origin_of(&s, "smtp.port"),
        (Origin::User, Some((f.user.clone(), 3)))
    );
    assert_eq!(
        origin_of(&s, "from"),
        (Origin::User, Some((f.user.clone(), 1)))
    );
    assert_eq!(origin_of(&s, "backend").0, Origin::Machine);
    assert_eq!(origin_of(&s, "imap"), (Origin::Default, None));
    assert!(s.locked.is_empty() && s.locked_overrides.is_empty());
}

/// Which file the error of loading `machine` under `user` names ("machine" or "user"),
/// its line and its key.
fn error_of(machine: &str, user: &str) -> (&'static str, Option<usize>, Option<String>) {
    let f = files(machine, user);
    let e = source(&f, Origin::Machine).load().unwrap_err();
    let file = match e.path.as_deref() {
        Some(p) if p == f.machine => "machine",
        Some(p) if p == f.user => "user",
        other => panic!("{e}: names {other:?}"),
    };
    (file, e.line, e.key)
}

#[test]
fn errors_name_the_file_and_line_they_are_in() {
    // A bad value in the user's file, below the machine file's lines.
    let bad_port = error_of(MACHINE, "\n\n[smtp]\nport = \"many\"\n");
    assert_eq!(bad_port, ("user", Some(4), None));
    // A validation error in the machine file, with a user file on top.
    let bad_from = error_of("from = \"not an address\"\n", "[smtp]\nhost = \"h\"\n");
    assert_eq!(bad_from, ("machine", Some(1), Some("from".into())));
    // A syntax error in the user's file.
    assert_eq!(error_of(MACHINE, "ok = \n").0, "user");
    assert_eq!(error_of(MACHINE, "ok = \n").1, Some(1));
    // An unknown key in the machine file.
    let unknown = error_of("[smtp]\nhost = \"h\"\nhots = 1\n", "");
    assert_eq!(unknown, ("machine", Some(3), Some("hots".into())));
}

#[test]
fn locked_keys_refuse_the_users_values() {
    let machine = format!("locked = [\"smtp\", \"from\"]\n{MACHINE}");
    let f = files(
        &machine,
        "from = \"Me <me@example.org>\"\n[smtp]\nhost = \"evil.example\"\n[log]\nlevel = \"debug\"\n",
    );
    let s = source(&f, Origin::Policy).load().unwrap();
    assert_eq!(s.smtp.as_ref().unwrap().host, "mail.example.org");
    assert_eq!(s.from.as_ref().unwrap().address, "it@example.org");
    assert_eq!(s.log_level, "debug");
    assert_eq!(s.locked, vec!["smtp", "from"]);
    let refused: Vec<_> = s
        .locked_overrides
        .iter()
        .map(|o| (o.key.as_str(), o.path.clone(), o.line))
        .collect();
    assert_eq!(
        refused,
        vec![
            ("smtp", Some(f.user.clone()), 2),
            ("from", Some(f.user.clone()), 1)
        ]
    );
    assert_eq!(
        s.locked_overrides[0].to_string(),
        format!(
            "{}:2: key `smtp` is locked by the machine configuration; the user's value is ignored",
            f.user.display()
        )
    );
    assert_eq!(origin_of(&s, "smtp.host").0, Origin::Policy);
    assert_eq!(origin_of(&s, "log.level").0, Origin::User);
    // Nothing the user wrote under a locked name is left: not even a key the machine lacks.
    let f = files(&machine, "[smtp]\nusername = \"u\"\n");
    let s = source(&f, Origin::Machine).load().unwrap();
    assert_eq!(s.smtp.as_ref().unwrap().username, None);
    assert_eq!(s.locked_overrides.len(), 1);
}

#[test]
fn locked_belongs_in_the_machine_file_and_names_known_keys() {
    let f = files(MACHINE, "[log]\nlevel = \"debug\"\nlocked = [\"smtp\"]\n");
    // `locked` inside [log] is just an unknown key there; at the top it is refused.
    assert!(source(&f, Origin::Machine).load().is_err());
    let f = files(MACHINE, "\nlocked = [\"smtp\"]\n");
    let e = source(&f, Origin::Machine).load().unwrap_err();
    assert_eq!(
        (e.path.as_deref(), e.line),
        (Some(f.user.as_path()), Some(2))
    );
    assert!(e.message.contains("belongs in the machine file"), "{e}");
    let f = files(&format!("{MACHINE}locked = [\"smtp\", \"smpt\"]\n"), "");
    let e = source(&f, Origin::Machine).load().unwrap_err();
    assert_eq!(
        (e.path.as_deref(), e.line),
        (Some(f.machine.as_path()), Some(8))
    );
    assert_eq!(e.key.as_deref(), Some("locked"));
    let f = files("locked = \"smtp\"\n", "");
    assert!(source(&f, Origin::Machine).load().is_err());
}

#[test]
fn missing_machine_file_is_skipped_but_a_missing_policy_file_is_an_error() {
    let f = files("", "[smtp]\nhost = \"h\"\n");
    std::fs::remove_file(&f.machine).unwrap();
    let s = source(&f, Origin::Machine).load().unwrap();
    assert_eq!(s.smtp.unwrap().host, "h");
    let e = source(&f, Origin::Policy).load().unwrap_err();
    assert_eq!(e.path.as_deref(), Some(f.machine.as_path()));
}

#[test]
fn top_keys_are_the_files_keys() {
    let e = Settings::from_toml("unknown_key = 1\n", None).unwrap_err();
    let expected: Vec<String> = TOP_KEYS.iter().map(|k| format!("`{k}`")).collect();
    assert!(
        e.message.ends_with(&expected.join(", ")),
        "{} lists other keys than TOP_KEYS",
        e.message
    );
}
