"""Header encoding through the C library, read back by Python's `email` (the independent
parser): display names, long values, literal encoded words, address validation, SMTPUTF8,
recipient limits on lists (issue 11 items 1, 2, 8, 9, 11)."""

import email
import email.header
import email.policy
import email.utils

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
LONG_NAMES = ["a" * 1000, "é" * 1000, " ".join(["word"] * 200)]


def legacy_mailboxes(raw_value):
    """compat32's view: getaddresses on the raw header, each name decoded separately."""
    pairs = email.utils.getaddresses([raw_value])
    return [(str(email.header.make_header(email.header.decode_header(n))), a) for n, a in pairs]


def check_one_mailbox(msg, header, name, address):
    modern = msg[header].addresses
    assert [(a.display_name, a.addr_spec) for a in modern] == [(name, address)], msg.raw.decode()
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
    file_name = name[:200].translate({ord(c): "_" for c in '"<>\\/:|?*'}) + ".txt"
    args += ["--make-attach", f"{file_name}::data", "--body", "x"]
    codes, _ = send(linux, setup, *args, *(["--wide"] if wide else []))
    assert codes == [0]
    [msg] = setup.messages()  # parse() also asserts that no line exceeds 998 bytes
    head = msg.raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    check_one_mailbox(msg, "To", name, "bob@example.org")
    assert msg["Subject"] == name
    assert str(email.header.make_header(email.header.decode_header(email.message_from_bytes(msg.raw)["Subject"]))) == name
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == file_name


@pytest.mark.parametrize("address", ["bob\u00a0@example.org", "bob\u2028x@example.org", "bob\u202egro.live@example.org", "bob\u200b@example.org"])
def test_invisible_and_bidi_characters_in_addresses_are_refused(linux, setup, address):
    codes, _ = send(linux, setup, "--to", address, "--subject", "x")
    assert codes == [25]
    assert setup.files() == []
    assert "MAPI_E_INVALID_RECIPS" in setup.log.read_text()


def test_lists_within_the_recipient_limit_are_split(linux, setup):
    args = []
    for i in range(64):  # 64 entries × 60 = 3,840 mailboxes: within the limit
        args += ["--bcc", ";".join(f"u{i}x{j}@example.org" for j in range(60))]
    codes, _ = send(linux, setup, *args, "--subject", "x")
    assert codes == [0]
    [msg] = setup.messages()
    assert len(msg["Bcc"].addresses) == 3840


def test_recipient_limit_refuses_lists_beyond_it(linux, setup):
    args = []
    for i in range(60):  # mapi_send takes 64 recipients; 60 × 200 = 12,000 mailboxes
        args += ["--bcc", ",".join(f"u{i}x{j}@example.org" for j in range(200))]
    codes, _ = send(linux, setup, *args, "--subject", "x")
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


@pytest.mark.parametrize("name", LONG_NAMES, ids=["ascii", "e-acute", "words"])
def test_long_names_are_not_refused_by_an_smtp_server(linux, setup, name):
    with Utf8Server(smtputf8=False) as server:
        smtp_config(setup, server.port)
        codes, _ = send(linux, setup, "--to-named", f"{name}::bob@example.org", "--subject", name, "--body", "x")
    assert codes == [0], setup.log.read_text()
    [received] = server.recorder.messages
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [(name, "bob@example.org")]
    assert msg["Subject"] == name


def test_non_ascii_address_goes_out_with_smtputf8_when_offered(linux, setup):
    with Utf8Server(smtputf8=True) as server:
        smtp_config(setup, server.port)
        codes, _ = send(linux, setup, "--to", "jürgen@exämple.org", "--subject", "x", "--body", "x")
    assert codes == [0], setup.log.read_text()
    [received] = server.recorder.messages
    assert received.rcpt_tos == ["jürgen@exämple.org"]
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "jürgen@exämple.org"


def test_non_ascii_address_fails_with_25_without_smtputf8(linux, setup):
    with Utf8Server(smtputf8=False) as server:
        smtp_config(setup, server.port)
        codes, _ = send(linux, setup, "--to", "jürgen@exämple.org", "--subject", "x", "--body", "x")
        assert server.recorder.messages == []
    assert codes == [25]
    log = setup.log.read_text()
    assert "SMTPUTF8" in log and "MAPI_E_INVALID_RECIPS" in log, log
