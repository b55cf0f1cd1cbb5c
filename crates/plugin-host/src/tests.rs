//! The host against tables linked into the test binary: the Rust helper's (`vtable`) and
//! hand-written C-style ones, so the whole ABI path runs without a shared library.
use super::*;
use mapishim_core::Attachment;
use mapishim_core::MapiCode;
use mapishim_plugin::toml::Table;
use mapishim_plugin::{Plugin, vtable};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox {
        name: name.map(str::to_string),
        address: address.into(),
    }
}

fn sample(subject: &str) -> Message {
    Message {
        from: mailbox(Some("Sender"), "s@example.org"),
        to: vec![mailbox(Some("Zoë"), "z@example.org")],
        cc: vec![mailbox(None, "c@example.org")],
        bcc: vec![mailbox(None, "hidden@example.org")],
        subject: subject.into(),
        body: "Hello\r\n".into(),
        attachments: vec![Attachment {
            file_name: "data.bin".into(),
            content_type: "application/octet-stream".into(),
            data: (0..=255u8).rev().collect(),
            source: "data.bin".into(),
        }],
        receipt_requested: false,
        dialog: false,
        modeless: false,
        message_id: "id@example.org".into(),
        date: 1_700_000_000,
    }
}

/// What each recorder (keyed by its `id` option) saw.
type Seen = HashMap<String, (Table, Vec<Message>)>;
static SEEN: Mutex<Option<Seen>> = Mutex::new(None);

fn seen(id: &str) -> (Table, Vec<Message>) {
    SEEN.lock().unwrap().as_ref().unwrap()[id].clone()
}

struct Recorder {
    id: String,
}

impl Backend for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        match message.subject.as_str() {
            "refuse" => Err(MapiError::new(
                MapiCode::TooManyRecipients,
                "at most one\r\nrecipient",
            )),
            "panic" => panic!("boom"),
            _ => {
                let mut seen = SEEN.lock().unwrap();
                seen.as_mut()
                    .unwrap()
                    .get_mut(&self.id)
                    .unwrap()
                    .1
                    .push(message.clone());
                Ok(Delivery::Sent)
            }
        }
    }

    fn resolve(&self, _session: usize, name: &str) -> Option<Result<Mailbox>> {
        match name {
            "Desk" => Some(Ok(mailbox(Some("Help Desk"), "help@example.org"))),
            "typed" => Some(Ok(mailbox(None, "SMTP:typed@example.org"))),
            "broken" => Some(Ok(mailbox(None, "not an address"))),
            "Martin" => Some(Err(MapiError::new(
                MapiCode::AmbiguousRecipient,
                "two Martins",
            ))),
            _ => None,
        }
    }
}

struct RecorderPlugin;

impl Plugin for RecorderPlugin {
    type Backend = Recorder;
    fn create(options: &Table) -> std::result::Result<Recorder, String> {
        let id = options
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or("option `id` is missing")?
            .to_string();
        let mut seen = SEEN.lock().unwrap();
        seen.get_or_insert_with(HashMap::new)
            .insert(id.clone(), (options.clone(), Vec::new()));
        Ok(Recorder { id })
    }
}

static RECORDER: BackendV1 = vtable::<RecorderPlugin>(c"recorder");

fn recorder(options: &str) -> std::result::Result<PluginBackend, String> {
    let options: Table = options.parse().unwrap();
    // SAFETY: a static table of the Rust helper, linked into this binary.
    unsafe { PluginBackend::from_table(&RECORDER, Path::new("recorder.so"), &options) }
}

#[test]
fn messages_round_trip_through_the_abi() {
    let backend = recorder("id = \"round-trip\"").unwrap();
    assert_eq!(backend.plugin_name(), "recorder");
    assert_eq!(backend.capabilities(), abi::CAP_SEND | abi::CAP_RESOLVE);
    let mut message = sample("round trip");
    message.dialog = true;
    assert_eq!(backend.send(&message), Ok(Delivery::Sent));
    let (_, mut received) = seen("round-trip");
    let got = received.pop().unwrap();
    message.attachments[0].source = got.attachments[0].source.clone();
    assert_eq!(got, message, "Bcc comes back from the envelope");
}

#[test]
fn options_round_trip_as_toml_text() {
    let text = r#"
        id = "options"
        folder = 'C:\Mail "archive"'
        unicode = "Zoë € \u0001"
        count = 42
        ratio = 0.5
        on = true
        list = [1, "two", { three = 3 }]
        when = 1979-05-27T07:32:00Z
        [names]
        "Help Desk" = "Support <help@example.org>"
    "#;
    let _backend = recorder(text).unwrap();
    let (options, _) = seen("options");
    assert_eq!(options, text.parse::<Table>().unwrap());
}

#[test]
fn plugin_errors_keep_their_mapi_code() {
    let backend = recorder("id = \"codes\"").unwrap();
    let err = backend.send(&sample("refuse")).unwrap_err();
    assert_eq!(err.code(), mapi::MAPI_E_TOO_MANY_RECIPIENTS);
    assert_eq!(err.detail(), "plugin recorder: at most one recipient");
    let err = backend.send(&sample("panic")).unwrap_err();
    assert_eq!(err.code(), mapi::MAPI_E_FAILURE);
    assert!(err.detail().contains("plugin panicked: boom"), "{err}");
    // The plugin survives its panic.
    assert_eq!(backend.send(&sample("after")), Ok(Delivery::Sent));
}

#[test]
fn refused_options_name_the_reason() {
    let err = recorder("other = 1").err().unwrap();
    assert_eq!(
        err,
        "plugin recorder refused its options: option `id` is missing"
    );
}

#[test]
fn resolve_results() {
    let backend = recorder("id = \"resolve\"").unwrap();
    let found = backend.resolve(0, "Desk").unwrap().unwrap();
    assert_eq!(found, mailbox(Some("Help Desk"), "help@example.org"));
    let typed = backend.resolve(0, "typed").unwrap().unwrap();
    assert_eq!(typed, mailbox(None, "typed@example.org"));
    assert!(backend.resolve(0, "Nobody").is_none(), "falls back");
    let err = backend.resolve(0, "Martin").unwrap().unwrap_err();
    assert_eq!(err.code(), mapi::MAPI_E_AMBIGUOUS_RECIPIENT);
    let err = backend.resolve(0, "broken").unwrap().unwrap_err();
    assert_eq!(err.code(), mapi::MAPI_E_FAILURE);
    assert!(err.detail().contains("invalid address"), "{err}");
}

// Hand-written C-style plugin: records the raw bytes and envelope, counts destroys.
/// Bytes, sender, recipients, flags.
type Raw = (Vec<u8>, String, Vec<String>, u32);
thread_local! {
    static RAW: RefCell<Option<Raw>> = const { RefCell::new(None) };
    static DESTROYED: RefCell<u32> = const { RefCell::new(0) };
}
static STATE: u8 = 0;
const RAW_CODE: u32 = 999;

unsafe extern "C" fn raw_create(
    _: *const c_char,
    _: usize,
    _: *mut c_char,
    _: usize,
) -> *mut c_void {
    (&raw const STATE).cast_mut().cast()
}
unsafe extern "C" fn raw_destroy(_: *mut c_void) {
    DESTROYED.with(|d| *d.borrow_mut() += 1);
}
unsafe extern "C" fn raw_caps(_: *mut c_void) -> u32 {
    abi::CAP_SEND
}
unsafe extern "C" fn raw_caps_resolve(_: *mut c_void) -> u32 {
    abi::CAP_SEND | abi::CAP_RESOLVE
}
unsafe extern "C" fn raw_send(
    _: *mut c_void,
    envelope: *const EnvelopeV1,
    message: *const u8,
    len: usize,
    error: *mut c_char,
    error_len: usize,
) -> u32 {
    // SAFETY: the host under test passes valid pointers and lengths.
    unsafe {
        let envelope = &*envelope;
        let text = |p: *const c_char| CStr::from_ptr(p).to_str().unwrap().to_string();
        let recipients = std::slice::from_raw_parts(envelope.recipients, envelope.recipient_count);
        let raw = (
            std::slice::from_raw_parts(message, len).to_vec(),
            text(envelope.from),
            recipients.iter().map(|&p| text(p)).collect(),
            envelope.flags,
        );
        RAW.with(|r| *r.borrow_mut() = Some(raw));
        // No NUL within the buffer: the host must stop at its end.
        std::ptr::write_bytes(error, b'x', error_len);
    }
    RAW_CODE
}

fn raw_table() -> BackendV1 {
    BackendV1 {
        abi_version: abi::ABI_VERSION,
        struct_size: BackendV1::SIZE,
        name: c"raw".as_ptr(),
        create: Some(raw_create),
        destroy: Some(raw_destroy),
        capabilities: Some(raw_caps),
        send: Some(raw_send),
        resolve: None,
    }
}

fn from_raw(table: &BackendV1) -> std::result::Result<PluginBackend, String> {
    // SAFETY: a table of functions in this binary.
    unsafe { PluginBackend::from_table(table, Path::new("raw.so"), &Table::new()) }
}

#[test]
fn the_wire_form_has_no_bcc_and_the_envelope_has_everyone() {
    let backend = from_raw(&raw_table()).unwrap();
    assert!(
        backend.resolve(0, "anyone").is_none(),
        "no RESOLVE capability"
    );
    let mut message = sample("wire");
    message.dialog = true;
    let err = backend.send(&message).unwrap_err();
    assert_eq!(
        err.code(),
        mapi::MAPI_E_FAILURE,
        "unknown codes become failures"
    );
    assert!(
        err.detail()
            .starts_with("plugin raw returned unknown code 999: xxx")
    );
    let (bytes, from, recipients, flags) = RAW.with(|r| r.borrow_mut().take()).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("Subject: wire") && !text.contains("hidden@"),
        "{text}"
    );
    assert_eq!(from, "s@example.org");
    assert_eq!(
        recipients,
        ["z@example.org", "c@example.org", "hidden@example.org"]
    );
    assert_eq!(flags, abi::ENVELOPE_DIALOG);
    drop(backend);
    assert_eq!(DESTROYED.with(|d| *d.borrow()), 1);
}

#[test]
fn tables_are_validated() {
    let check = |table: BackendV1, expected: &str| {
        let err = from_raw(&table).err().unwrap();
        assert!(err.contains(expected), "{err:?} lacks {expected:?}");
    };
    check(
        BackendV1 {
            abi_version: 2,
            ..raw_table()
        },
        "plugin ABI version 2, this host supports 1",
    );
    check(
        BackendV1 {
            struct_size: 16,
            ..raw_table()
        },
        "struct_size 16 is smaller",
    );
    check(
        BackendV1 {
            name: std::ptr::null(),
            ..raw_table()
        },
        "mapishim_backend_v1.name is NULL",
    );
    check(
        BackendV1 {
            send: None,
            ..raw_table()
        },
        "mapishim_backend_v1.send is NULL",
    );
    check(
        BackendV1 {
            destroy: None,
            ..raw_table()
        },
        "mapishim_backend_v1.destroy is NULL",
    );
    let before = DESTROYED.with(|d| *d.borrow());
    check(
        BackendV1 {
            capabilities: Some(raw_caps_resolve),
            ..raw_table()
        },
        "RESOLVE capability but mapishim_backend_v1.resolve is NULL",
    );
    assert_eq!(
        DESTROYED.with(|d| *d.borrow()),
        before + 1,
        "state destroyed"
    );
    // SAFETY: NULL is allowed.
    let err = unsafe { PluginBackend::from_table(std::ptr::null(), Path::new("x"), &Table::new()) };
    assert_eq!(err.err().unwrap(), "mapishim_backend_v1 returned NULL");
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let settings = |library: PathBuf| PluginSettings {
        library,
        options: Table::new(),
    };
    let missing = dir.path().join("libnothere.so");
    let err = PluginBackend::load(&settings(missing.clone()))
        .err()
        .unwrap();
    assert_eq!(
        err,
        format!("plugin library {} does not exist", missing.display())
    );
    let garbage = dir.path().join("libgarbage.so");
    std::fs::write(&garbage, "not a library").unwrap();
    let err = PluginBackend::load(&settings(garbage.clone()))
        .err()
        .unwrap();
    assert!(
        err.starts_with(&format!(
            "plugin library {} cannot be loaded: ",
            garbage.display()
        )),
        "{err}"
    );
}
