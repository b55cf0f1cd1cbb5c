"""Header encoding through the C library, read back by Python's `email` (the independent
parser): display names, long values, literal encoded words, address validation, SMTPUTF8,
recipient limits on lists (issue 11 items 1, 2, 8, 9, 11)."""

import email
import email.header
import email.policy
import email.utils
import re

import pytest
from aiosmtpd.controller import Controller
from conftest import Runner, send
from smtp_server import Recorder, free_port

HOSTILE_NAMES = [
    'é",<evil@x.org>,"',
    'Müller "Hans"',
    "Doe, Jane",
    "=?utf-8?B?QWRtaW4=?=",
    'a\\b "c" <d@e.f>',
    "Zoë ; Bcc: eve@x.org",
]
LONG_NAMES = ["a" * 1000, "é" * 1000, " ".join(["word"] * 200), " ".join(["Zoë Müller"] * 90)]


def unfold(value):
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def legacy_text(raw_value):
    """compat32's view of an unstructured header: unfolded, then decoded."""
    return str(email.header.make_header(email.header.decode_header(unfold(raw_value))))


def legacy_mailboxes(raw_value):
    """compat32's view: getaddresses on the raw header, each name decoded separately."""
    pairs = email.utils.getaddresses([raw_value])
    return [(str(email.header.make_header(email.header.decode_header(n))), a) for n, a in pairs]


def check_one_mailbox(msg, header, name, address):
    modern = msg[header].addresses
    assert len(modern) == 1 and modern[0].addr_spec == address, msg.raw.decode()
    if name in LONG_NAMES[:2]:
        # Python's default policy keeps the space between adjacent encoded words in a
        # phrase (RFC 2047 §6.2 drops it; mail-parser and decode_header below do), so a name
        # with no space to split at reads back with spaces added there, and only there.
        assert modern[0].display_name.replace(" ", "") == name, msg.raw.decode()
    elif name == LONG_NAMES[3]:
        # Split at its spaces: there the same reader shows two spaces instead of one.
        assert " ".join(modern[0].display_name.split()) == name, msg.raw.decode()
    else:
        assert modern[0].display_name == name, msg.raw.decode()
    legacy = email.message_from_bytes(msg.raw)  # compat32: raw header text
    assert legacy_mailboxes(legacy[header]) == [(name, address)], legacy[header]


@pytest.fixture
def linux(linux_sender):
    return Runner("linux", linux_sender)


@pytest.mark.parametrize("name", HOSTILE_NAMES + LONG_NAMES, ids=range(len(HOSTILE_NAMES + LONG_NAMES)))
@pytest.mark.parametrize("wide", [False, True], ids=["narrow", "wide"])
def test_names_subjects_and_file_names_read_back_exactly(linux, setup, name, wide):
    args = ["--to-named", f"{name}::bob@example.org", "--subject", name]
    # Characters Windows forbids in file names are replaced before any header is written.
    # File names are capped at 200 bytes (text::bare_file_name); 90 characters fit in é too.
    file_name = name[:90].translate({ord(c): "_" for c in '"<>\\/:|?*'}) + ".txt"
    args += ["--make-attach", f"{file_name}::data", "--body", "x"]
    codes, _ = send(linux, setup, *args, *(["--wide"] if wide else []))
    assert codes == [0]
    [msg] = setup.messages()  # parse() also asserts that no line exceeds 998 bytes
    head = msg.raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    check_one_mailbox(msg, "To", name, "bob@example.org")
    assert msg["Subject"] == name
    assert legacy_text(email.message_from_bytes(msg.raw)["Subject"]) == name
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == file_name


@pytest.mark.parametrize("address", ["bob\u00a0@example.org", "bob\u2028x@example.org", "bob\u202egro.live@example.org", "bob\u200b@example.org"])
def test_invisible_and_bidi_characters_in_addresses_are_refused(linux, setup, address):
    codes, _ = send(linux, setup, "--to", address, "--subject", "x")
    assert codes == [25]
    assert setup.files() == []
    assert "MAPI_E_INVALID_RECIPS" in setup.log.read_text()


def list_entries(count, per_entry=60, separator=";"):
    """`count` Bcc entries, each a list of `per_entry` short addresses (under 1 KiB)."""
    args = []
    for i in range(count):
        args += ["--bcc", separator.join(f"a{i}x{j}@x.org" for j in range(per_entry))]
    return args


def test_lists_within_the_recipient_limit_are_split(linux, setup):
    codes, _ = send(linux, setup, *list_entries(64), "--subject", "x")  # 3,840 mailboxes
    assert codes == [0]
    [msg] = setup.messages()
    assert len(msg["Bcc"].addresses) == 3840


@pytest.mark.parametrize("separator", [";", ", "])
def test_200_list_entries_cannot_exceed_the_recipient_limit(linux, setup, separator):
    codes, _ = send(linux, setup, *list_entries(200, separator=separator), "--subject", "x")  # 12,000
    assert codes == [10]
    assert setup.files() == []
    assert "MAPI_E_TOO_MANY_RECIPIENTS" in setup.log.read_text()


class Utf8Server:
    """aiosmtpd on loopback, offering SMTPUTF8 or not; aiosmtpd answers `500 Line too long`
    for lines over 1,000 bytes, like real servers."""

    def __init__(self, smtputf8):
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=10, enable_SMTPUTF8=smtputf8
        )

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def smtp_config(setup, port):
    setup.write_config(
        text=(
            'backend = "smtp"\nfrom = "Accounts <accounts@example.org>"\non_failure = "error"\n'
            '[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout_secs = 5\n'
        )
    )


@pytest.mark.parametrize("name", LONG_NAMES, ids=["ascii", "e-acute", "words", "mixed"])
def test_long_names_are_not_refused_by_an_smtp_server(linux, setup, name):
    with Utf8Server(smtputf8=False) as server:
        smtp_config(setup, server.port)
        codes, _ = send(linux, setup, "--to-named", f"{name}::bob@example.org", "--subject", name, "--body", "x")
    assert codes == [0], setup.log.read_text()
    [received] = server.recorder.messages
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    legacy = email.message_from_bytes(received.data)
    assert legacy_mailboxes(legacy["To"]) == [(name, "bob@example.org")]
    assert msg["Subject"] == name


def test_non_ascii_address_goes_out_with_smtputf8_when_offered(linux, setup):
    with Utf8Server(smtputf8=True) as server:
        smtp_config(setup, server.port)
        codes, _ = send(linux, setup, "--to", "jürgen@exämple.org", "--subject", "x", "--body", "x")
    assert codes == [0], setup.log.read_text()
    [received] = server.recorder.messages
    assert received.rcpt_tos == ["jürgen@exämple.org"]
    msg = email.message_from_string(received.data.decode(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "jürgen@exämple.org"


def test_non_ascii_address_fails_with_25_without_smtputf8(linux, setup):
    with Utf8Server(smtputf8=False) as server:
        smtp_config(setup, server.port)
        codes, _ = send(linux, setup, "--to", "jürgen@exämple.org", "--subject", "x", "--body", "x")
        assert server.recorder.messages == []
    assert codes == [25]
    log = setup.log.read_text()
    assert "SMTPUTF8" in log and "MAPI_E_INVALID_RECIPS" in log, log


HTML = "<html><head><style>p{color:red}</style></head><body><h1>Q3 report</h1><p>Sales &amp; costs: <b>up</b> 5 %.</p></body></html>"


@pytest.mark.parametrize("position", ["0", "0xFFFFFFFF"])
def test_html_file_without_note_text_is_the_body(linux, setup, position):
    """Word and reporting tools: lpszNoteText = NULL, the HTML as the first attachment."""
    codes, _ = send(linux, setup, "--to", "bob@example.org", "--subject", "html", "--position", position,
                    "--make-attach", f"report.html::{HTML}", "--make-attach", "data.csv::a,b")
    assert codes == [0]
    [msg] = setup.messages()
    assert msg.get_content_type() == "multipart/mixed"
    alternative, csv = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.get_payload()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content().replace("\r\n", "\n") == "Q3 report\n\nSales & costs: up 5 %.\n"
    assert html.get_content() == HTML
    assert [a.get_filename() for a in msg.iter_attachments()] == ["data.csv"]
    assert msg.get_body(("html",)).get_content() == HTML


def test_html_file_alone_makes_an_alternative_message(linux, setup):
    codes, _ = send(linux, setup, "--to", "bob@example.org", "--position", "0", "--make-attach", f"r.htm::{HTML}")
    assert codes == [0]
    [msg] = setup.messages()
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().startswith("Q3 report")
    assert list(msg.iter_attachments()) == []


def test_html_file_with_note_text_stays_an_attachment(linux, setup):
    codes, _ = send(linux, setup, "--to", "bob@example.org", "--body", "See attached.",
                    "--make-attach", f"report.html::{HTML}")
    assert codes == [0]
    [msg] = setup.messages()
    assert msg.get_body(("plain",)).get_content().strip() == "See attached."
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "report.html" and att.get_content() == HTML
