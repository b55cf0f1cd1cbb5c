//! The store on Maildirs built here: flags, order, stable IDs, save/replace/delete/trash,
//! error codes, and hostile input.
use mapishim_core::{Attachment, Mailbox, Message};
use mapishim_mailbox::{FindOptions, ReadOptions, Store, cleanup_attachments};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SEP: char = if cfg!(windows) { ';' } else { ':' };

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    maildir: PathBuf,
    attach: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let maildir = root.join("INBOX");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    Fixture {
        attach: root.join("attach"),
        _dir: dir,
        root,
        maildir,
    }
}

impl Fixture {
    fn put(&self, rel: &str, data: impl AsRef<[u8]>) {
        fs::write(self.maildir.join(rel.replace(':', &SEP.to_string())), data).unwrap();
    }
    fn store(&self) -> Store {
        Store::from_paths(self.maildir.clone(), None, None)
    }
}

fn simple(subject: &str, date: &str) -> String {
    format!(
        "From: A <a@example.org>\r\nTo: b@example.org\r\nSubject: {subject}\r\nDate: {date}\r\n\r\nBody of {subject}\r\n"
    )
}

fn walk(store: &Store, opts: FindOptions) -> Vec<String> {
    let mut ids = Vec::new();
    let mut seed: Option<String> = None;
    while let Ok(id) = store.find_next(Some(""), seed.as_deref(), opts) {
        seed = Some(id.clone());
        ids.push(id);
        assert!(ids.len() < 1000);
    }
    ids
}

fn peek() -> ReadOptions {
    ReadOptions {
        peek: true,
        ..Default::default()
    }
}

/// Three messages whose dates run against their names.
fn three(f: &Fixture) {
    f.put(
        "new/1000.a.host",
        simple("third", "Wed, 03 Jan 2024 10:00:00 +0000"),
    );
    f.put(
        "cur/2000.b.host:2,S",
        simple("first", "Mon, 01 Jan 2024 10:00:00 +0000"),
    );
    f.put(
        "cur/3000.c.host:2,F",
        simple("second", "Tue, 02 Jan 2024 10:00:00 +0000"),
    );
}

#[test]
fn order_filters_and_end_of_list() {
    let f = fixture();
    three(&f);
    let store = f.store();
    assert_eq!(
        walk(&store, FindOptions::default()),
        ["i-1000.a.host", "i-2000.b.host", "i-3000.c.host"]
    );
    let fifo = FindOptions {
        fifo: true,
        ..Default::default()
    };
    assert_eq!(
        walk(&store, fifo),
        ["i-2000.b.host", "i-3000.c.host", "i-1000.a.host"]
    );
    let unread = FindOptions {
        unread_only: true,
        fifo: true,
        long_ids: true,
    };
    assert_eq!(walk(&store, unread), ["i-3000.c.host", "i-1000.a.host"]);
    let e = store
        .find_next(None, Some("i-3000.c.host"), FindOptions::default())
        .unwrap_err();
    assert_eq!(e.code(), 16);
    // Other message types hold nothing; a malformed seed is an invalid message.
    let e = store.find_next(Some("IPM.Note"), None, fifo).unwrap_err();
    assert_eq!(e.code(), 16);
    for bad in ["garbage", "d-1000.a.host", "i-../x"] {
        let e = store.find_next(None, Some(bad), fifo).unwrap_err();
        assert_eq!(e.code(), 17, "{bad}");
    }
    // An empty maildir, or one that does not exist, has no messages.
    let empty = Store::from_paths(f.root.join("missing"), None, None);
    assert_eq!(empty.find_next(None, None, fifo).unwrap_err().code(), 16);
}

#[test]
fn ids_are_stable_across_stores_and_marking_read() {
    let f = fixture();
    three(&f);
    let before = walk(&f.store(), FindOptions::default());
    let store = f.store();
    // Reading without MAPI_PEEK marks read: new/ → cur/ with S; the flags reported are the
    // ones before this read.
    let m = store
        .read("i-1000.a.host", ReadOptions::default(), &f.attach)
        .unwrap();
    assert_eq!(m.flags & 1, 1);
    assert!(f.maildir.join(format!("cur/1000.a.host{SEP}2,S")).exists());
    assert!(!f.maildir.join("new/1000.a.host").exists());
    let m = store
        .read("i-3000.c.host", ReadOptions::default(), &f.attach)
        .unwrap();
    assert_eq!(m.subject, "second");
    assert!(f.maildir.join(format!("cur/3000.c.host{SEP}2,FS")).exists());
    assert_eq!(
        walk(
            &Store::from_paths(f.maildir.clone(), None, None),
            FindOptions::default()
        ),
        before
    );
    let again = store.read("i-1000.a.host", peek(), &f.attach).unwrap();
    assert_eq!(again.flags & 1, 0, "now read");
    // PEEK leaves an unread message alone.
    f.put(
        "new/4000.d.host",
        simple("fourth", "Thu, 04 Jan 2024 10:00:00 +0000"),
    );
    store.read("i-4000.d.host", peek(), &f.attach).unwrap();
    assert!(f.maildir.join("new/4000.d.host").exists());
    // A FIFO walk that marks each message read as it goes still visits every message once.
    let fifo_unread = FindOptions {
        fifo: true,
        unread_only: true,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut seed = None;
    while let Ok(id) = store.find_next(None, seed.as_deref(), fifo_unread) {
        store.read(&id, ReadOptions::default(), &f.attach).unwrap();
        seen.push(id.clone());
        seed = Some(id);
    }
    assert_eq!(seen, ["i-4000.d.host"]);
}

fn multipart() -> Vec<u8> {
    let big: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let mut b64 = String::new();
    {
        use base64::Engine;
        let enc = base64::engine::general_purpose::STANDARD.encode(&big);
        for line in enc.as_bytes().chunks(76) {
            b64.push_str(std::str::from_utf8(line).unwrap());
            b64.push_str("\r\n");
        }
    }
    format!(
        "From: =?iso-8859-1?Q?J=FCrgen?= <j@example.org>\r\n\
         To: \"Bob B\" <bob@example.org>, carol@example.org\r\n\
         Cc: dan@example.org\r\n\
         Bcc: eve@example.org\r\n\
         Subject: =?windows-1252?Q?Preis_=80_42?=\r\n\
         Date: Fri, 05 Jan 2024 13:45:00 +0100\r\n\
         Message-ID: <m1@example.org>\r\n\
         Disposition-Notification-To: j@example.org\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
         --XX\r\nContent-Type: text/plain; charset=iso-8859-15\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         Gr=FC=DFe, =A4 10\r\n\
         --XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {b64}\
         --XX\r\nContent-Type: text/plain; name=\"con.txt\"\r\nContent-Disposition: attachment\r\n\r\n\
         device\r\n\
         --XX--\r\n"
    )
    .into_bytes()
}

#[test]
fn read_flags_fields_and_attachments() {
    let f = fixture();
    f.put("new/5000.m.host", multipart());
    let store = f.store();
    let full = store.read("i-5000.m.host", peek(), &f.attach).unwrap();
    assert_eq!(full.subject, "Preis € 42");
    assert_eq!(full.note_text.as_deref(), Some("Grüße, € 10"));
    assert_eq!(full.date_received.as_deref(), Some("2024/01/05 12:45"));
    assert_eq!(full.conversation_id.as_deref(), Some("m1@example.org"));
    assert_eq!(full.flags, 0x1 | 0x2);
    assert_eq!(full.message_type, None);
    let o = full.originator.as_ref().unwrap();
    assert_eq!(
        (o.class, o.name.as_str(), o.address.as_str()),
        (0, "Jürgen", "SMTP:j@example.org")
    );
    let r: Vec<(u32, &str, &str)> = full
        .recipients
        .iter()
        .map(|r| (r.class, r.name.as_str(), r.address.as_str()))
        .collect();
    assert_eq!(
        r,
        [
            (1, "Bob B", "SMTP:bob@example.org"),
            (1, "carol@example.org", "SMTP:carol@example.org"),
            (2, "dan@example.org", "SMTP:dan@example.org"),
            (3, "eve@example.org", "SMTP:eve@example.org"),
        ]
    );
    let names: Vec<&str> = full
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    assert_eq!(names, ["big.bin", "_con.txt"]);
    let dir = full.attachment_dir.clone().unwrap();
    assert!(dir.starts_with(&f.attach));
    for a in &full.attachments {
        assert_eq!(a.path.parent(), Some(dir.as_path()));
    }
    assert_eq!(
        fs::metadata(&full.attachments[0].path).unwrap().len(),
        5 * 1024 * 1024
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    // Every flag combination: what is filled in, and that each read gets its own folder.
    let mut folders = std::collections::HashSet::new();
    for bits in 0..8u32 {
        let opts = ReadOptions {
            peek: true,
            envelope_only: bits & 1 != 0,
            suppress_attach: bits & 2 != 0,
            body_as_file: bits & 4 != 0,
        };
        let m = store.read("i-5000.m.host", opts, &f.attach).unwrap();
        assert_eq!(m.subject, "Preis € 42", "{opts:?}");
        assert_eq!(m.recipients.len(), 4);
        assert_eq!(m.flags, 0x3);
        let names: Vec<&str> = m.attachments.iter().map(|a| a.file_name.as_str()).collect();
        let expected: &[&str] = match (opts.envelope_only, opts.body_as_file, opts.suppress_attach)
        {
            (true, ..) => &[],
            (false, true, true) => &["body.txt"],
            (false, true, false) => &["body.txt", "big.bin", "_con.txt"],
            (false, false, true) => &[],
            (false, false, false) => &["big.bin", "_con.txt"],
        };
        assert_eq!(names, expected, "{opts:?}");
        let note = match (opts.envelope_only, opts.body_as_file) {
            (false, false) => Some("Grüße, € 10"),
            _ => None,
        };
        assert_eq!(m.note_text.as_deref(), note, "{opts:?}");
        if opts.body_as_file && !opts.envelope_only {
            assert_eq!(
                fs::read_to_string(&m.attachments[0].path).unwrap(),
                "Grüße, € 10"
            );
        }
        assert_eq!(m.attachment_dir.is_some(), !expected.is_empty());
        if let Some(d) = m.attachment_dir {
            assert!(folders.insert(d));
        }
    }
    assert!(
        f.maildir.join("new/5000.m.host").exists(),
        "all reads peeked"
    );
    assert_eq!(
        cleanup_attachments(&f.attach, Duration::ZERO).unwrap(),
        folders.len() + 1
    );
    assert_eq!(fs::read_dir(&f.attach).unwrap().count(), 0);
}

#[test]
fn html_only_and_charsets() {
    let f = fixture();
    f.put(
        "cur/6000.h.host:2,S",
        "Subject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>you</b></p><p>A&amp;B</p>",
    );
    let mut sjis =
        b"Subject: =?shift_jis?B?k/qWe4zq?=\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n"
            .to_vec();
    sjis.extend_from_slice(b"\x83n\x83\x8D\x81[\r\n");
    f.put("cur/6001.s.host:2,S", sjis);
    let mut gb =
        b"Subject: =?gb2312?B?1tDOxA==?=\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n"
            .to_vec();
    gb.extend_from_slice(b"\xc4\xe3\xba\xc3\r\n");
    f.put("cur/6002.g.host:2,S", gb);
    let mut latin =
        b"Subject: =?iso-8859-1?Q?caf=E9?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
            .to_vec();
    latin.extend_from_slice(b"na\xefve\n");
    f.put("cur/6003.l.host:2,S", latin);
    let store = f.store();
    let read = |id: &str| store.read(id, peek(), &f.attach).unwrap();
    let h = read("i-6000.h.host");
    assert_eq!(h.note_text.as_deref(), Some("Hello you\r\nA&B\r\n"));
    let s = read("i-6001.s.host");
    assert_eq!(
        (s.subject.as_str(), s.note_text.as_deref()),
        ("日本語", Some("ハロー\r\n"))
    );
    let g = read("i-6002.g.host");
    assert_eq!(
        (g.subject.as_str(), g.note_text.as_deref()),
        ("中文", Some("你好\r\n"))
    );
    let l = read("i-6003.l.host");
    assert_eq!(
        (l.subject.as_str(), l.note_text.as_deref()),
        ("café", Some("naïve\r\n"))
    );
}

fn draft(subject: &str) -> Message {
    Message {
        from: Mailbox {
            name: Some("Me".into()),
            address: "me@example.org".into(),
        },
        to: vec![Mailbox {
            name: None,
            address: "you@example.org".into(),
        }],
        cc: vec![],
        bcc: vec![Mailbox {
            name: None,
            address: "hidden@example.org".into(),
        }],
        subject: subject.into(),
        body: "Draft body\r\n".into(),
        attachments: vec![Attachment {
            file_name: "a.txt".into(),
            content_type: "text/plain".into(),
            data: b"attached".to_vec(),
            source: PathBuf::from("/tmp/a.txt"),
        }],
        receipt_requested: false,
        dialog: false,
        modeless: false,
        message_id: "d1@example.org".into(),
        date: 1_704_067_200,
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["cur", "new", "tmp"] {
        if let Ok(entries) = fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                out.push(format!("{sub}/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn save_replace_delete_and_trash() {
    let f = fixture();
    let drafts = f.root.join("Drafts");
    let trash = f.root.join("Trash");
    let store = Store::from_paths(f.maildir.clone(), Some(drafts.clone()), Some(trash.clone()));
    let id = store.save(&draft("first"), None).unwrap();
    assert!(id.starts_with("d-") && id.len() <= 63, "{id}");
    let saved = files(&drafts);
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(saved[0].starts_with("cur/") && saved[0].ends_with(&format!("{SEP}2,DS")));
    let m = store.read(&id, peek(), &f.attach).unwrap();
    assert_eq!(m.subject, "first");
    assert_eq!(m.flags, 0x4, "a draft: sent by us, not unread");
    assert_eq!(m.recipients.last().unwrap().class, 3, "Bcc kept");
    assert_eq!(m.attachments[0].file_name, "a.txt");
    // Replacing keeps the ID and the file name.
    let again = store.save(&draft("second"), Some(&id)).unwrap();
    assert_eq!(again, id);
    assert_eq!(files(&drafts), saved, "no temporary files left");
    assert_eq!(
        store.read(&id, peek(), &f.attach).unwrap().subject,
        "second"
    );
    // Unknown IDs everywhere give MAPI_E_INVALID_MESSAGE.
    for bad in ["d-nothing", "i-nothing", "nonsense", ""] {
        assert_eq!(store.read(bad, peek(), &f.attach).unwrap_err().code(), 17);
        assert_eq!(store.delete(bad).unwrap_err().code(), 17);
    }
    assert_eq!(
        store
            .save(&draft("x"), Some("d-nothing"))
            .unwrap_err()
            .code(),
        17
    );
    // Delete moves to the trash, under the same name.
    store.delete(&id).unwrap();
    assert_eq!(files(&drafts), Vec::<String>::new());
    assert_eq!(files(&trash), saved);
    assert_eq!(store.read(&id, peek(), &f.attach).unwrap_err().code(), 17);

    // Without drafts and trash: saved into the maildir, deleted for good.
    let plain = f.store();
    let id = plain.save(&draft("inbox"), None).unwrap();
    assert!(id.starts_with("i-"));
    assert_eq!(
        walk(&plain, FindOptions::default()),
        std::slice::from_ref(&id)
    );
    plain.delete(&id).unwrap();
    assert_eq!(files(&f.maildir), Vec::<String>::new());
    assert_eq!(files(&trash).len(), 1);
}

#[test]
fn a_deleted_seed_keeps_its_place() {
    let f = fixture();
    three(&f);
    let store = f.store();
    let fifo = FindOptions {
        fifo: true,
        ..Default::default()
    };
    let first = store.find_next(None, None, fifo).unwrap();
    assert_eq!(first, "i-2000.b.host");
    store.delete(&first).unwrap();
    assert_eq!(
        store.find_next(None, Some(&first), fifo).unwrap(),
        "i-3000.c.host"
    );
    assert_eq!(
        store
            .find_next(None, Some(&first), FindOptions::default())
            .unwrap(),
        "i-3000.c.host"
    );
    // A FIFO seed this store never saw cannot be placed.
    let other = f.store();
    assert_eq!(
        other
            .find_next(None, Some(&first), fifo)
            .unwrap_err()
            .code(),
        17
    );
}

fn tree(root: &Path, except: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.starts_with(except) {
                continue;
            }
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.insert(path, meta.len());
        }
    }
    out
}

#[test]
fn hostile_maildir() {
    let f = fixture();
    let outside = f.root.join("outside.eml");
    fs::write(&outside, "Subject: secret\r\n\r\nsecret\r\n").unwrap();
    f.put("cur/h1:2,S", "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nno end");
    f.put(
        "cur/h2:2,S",
        format!("X-Long: {}\r\nSubject: long\r\n\r\nx", "y".repeat(1 << 20)),
    );
    f.put("cur/h3:2,S", &multipart()[..100_000]);
    f.put("cur/h4:2,S", b"\x00\x01\x02\xff\xfe binary");
    f.put("cur/h5:2,S", "");
    f.put(
        "cur/h6:2,S",
        "Subject: names\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n\
         --q\r\nContent-Disposition: attachment; filename=\"../../escape\"\r\n\r\na\r\n\
         --q\r\nContent-Disposition: attachment; filename=\"/abs/path\"\r\n\r\nb\r\n\
         --q\r\nContent-Disposition: attachment; filename=\"..\"\r\n\r\nc\r\n\
         --q\r\nContent-Disposition: attachment; filename=\"x\x07y\"\r\n\r\nd\r\n--q--\r\n",
    );
    let nested: String = (0..3000)
        .map(|i| format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"))
        .collect();
    f.put("cur/h7:2,S", format!("Subject: deep\r\n{nested}\r\ntext"));
    fs::create_dir(f.maildir.join("cur/subdir")).unwrap();
    f.put("cur/subdir/inner", "Subject: inner\r\n\r\n");
    f.put("cur/.dot", "Subject: dot\r\n\r\n");
    f.put("tmp/partial", "Subject: partial\r\n\r\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, f.maildir.join("cur/link:2,S")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", f.maildir.join("new/passwd")).unwrap();
        // mkfifo(1) keeps this crate free of unsafe code; without it the case is skipped.
        let _ = std::process::Command::new("mkfifo")
            .arg(f.maildir.join("new/fifo"))
            .status();
    }
    let huge = fs::File::create(f.maildir.join("cur/h8:2,S")).unwrap();
    huge.set_len(80 << 20).unwrap();
    drop(huge);

    let before = tree(&f.root, &f.attach);
    let store = f.store();
    let ids = walk(&store, FindOptions::default());
    assert_eq!(
        ids,
        [
            "i-h1", "i-h2", "i-h3", "i-h4", "i-h5", "i-h6", "i-h7", "i-h8"
        ]
    );
    let fifo = FindOptions {
        fifo: true,
        ..Default::default()
    };
    assert_eq!(walk(&store, fifo).len(), ids.len());
    for id in &ids {
        for bits in [0x80u32, 0x80 | 0x40, 0x80 | 0x200, 0x80 | 0x800] {
            let opts = ReadOptions::from_flags(bits);
            match store.read(id, opts, &f.attach) {
                Ok(m) => {
                    for a in &m.attachments {
                        assert!(a.path.starts_with(&f.attach), "{}", a.path.display());
                    }
                }
                Err(e) => assert!(
                    id == "i-h8" && e.code() == 5 && bits & 0x40 == 0,
                    "{id}: {e}"
                ),
            }
        }
    }
    let names = store.read("i-h6", peek(), &f.attach).unwrap();
    let names: Vec<&str> = names
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    assert_eq!(names, ["escape", "path", "attachment-3.bin", "x y"]);
    assert_eq!(
        store.read("i-h2", peek(), &f.attach).unwrap().subject,
        "long"
    );
    let envelope = ReadOptions::from_flags(0x80 | 0x40);
    assert_eq!(store.read("i-h8", envelope, &f.attach).unwrap().subject, "");
    assert_eq!(
        store
            .list(mapishim_mailbox::Folder::Inbox, fifo)
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        before,
        tree(&f.root, &f.attach),
        "nothing outside the attachment folder changed"
    );
    assert_eq!(
        fs::read_to_string(&outside).unwrap(),
        "Subject: secret\r\n\r\nsecret\r\n"
    );

    // Without PEEK only renames inside the maildir happen.
    for id in &ids {
        let _ = store.read(id, ReadOptions::default(), &f.attach);
    }
    let after = tree(&f.root, &f.attach);
    assert_eq!(before.len(), after.len());
    assert!(after.keys().all(|p| p.starts_with(&f.root)));
}
