"""`[composer] kind = "window"`: the built-in compose window of the x64 DLL under Wine, on a
virtual X display (Xvfb) started here, driven with xdotool as a user would: type into the
window, press Alt+S or Esc, then check what the call returned and what the outbox holds."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import C_DIR, ROOT, Runner, boot_prefix, run, run_unpiped, wine_env, wine_program
from smtp_server import Server, tls_contexts

MAPI_DIALOG = 0x8
MAPI_DIALOG_MODELESS = 0xC
BODY = "Body from the caller.\nSecond line.\n"
ATTACHMENT = "attachment bytes 0123456789"
# Where to keep the screenshot for the docs (docs/compose-window.png), when set.
SCREENSHOT = os.environ.get("MAPISHIM_WINDOW_SCREENSHOT")


def free_display():
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise AssertionError("no free X display number in 90..199")


@pytest.fixture(scope="module")
def display():
    for tool in ("Xvfb", "xdotool", "import"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
    n = free_display()
    xvfb = subprocess.Popen(
        # Large enough for the window at 192 dpi (Wine keeps windows within the screen).
        ["Xvfb", f":{n}", "-screen", "0", "2048x1536x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        assert xvfb.poll() is None, f"Xvfb :{n} exited {xvfb.returncode}"
        assert time.monotonic() < deadline, f"Xvfb :{n} did not come up"
        time.sleep(0.1)
    yield f":{n}"
    xvfb.terminate()
    xvfb.wait(timeout=10)


@pytest.fixture(scope="module")
def window_prefix(display):
    """A Wine prefix of its own, booted on the virtual display: the shared one's wineserver
    and desktop run without a display."""
    prefix = ROOT / "target" / "wine" / "window-prefix"
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEARCH="win64", DISPLAY=display)
    boot_prefix(prefix, env)
    yield prefix
    subprocess.run(["wineserver", "-k"], env=env, check=False)


@pytest.fixture(scope="module", params=["wine64", "wine32"])
def caller(request, windows_dist, window_prefix, tmp_path_factory):
    """`tests/c/mapi_send.c` beside the x64 or the x86 DLL."""
    kind = request.param
    exe = wine_program(kind, windows_dist, tmp_path_factory.mktemp(kind), C_DIR / "mapi_send.c", "mapi_send")
    return Runner(kind, exe, prefix=["wine"], env=wine_env(window_prefix))


def xdotool(display, *args):
    return run(["xdotool", *args], env=dict(os.environ, DISPLAY=display), check=False)


def wait_for_window(display, proc, title="^New message", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = xdotool(display, "search", "--name", title).stdout.split()
        if found:
            return found[-1]
        assert proc.poll() is None, "the caller ended before a window appeared"
        time.sleep(0.25)
    raise AssertionError(f"no window titled {title!r} appeared")


def window_names(display):
    """Every named window on the display, for a failure's message."""
    ids = xdotool(display, "search", "--name", ".").stdout.split()
    return [xdotool(display, "getwindowname", wid).stdout.strip() for wid in ids]


def focus(display, wid, timeout=10):
    """Gives `wid` the keyboard focus and waits until X reports it there: keys typed before
    that are lost, and the caller then waits for input that never comes."""
    deadline = time.monotonic() + timeout
    while True:
        xdotool(display, "windowfocus", "--sync", wid)
        if xdotool(display, "getwindowfocus").stdout.strip() == wid:
            return
        assert time.monotonic() < deadline, f"window {wid} never got the focus; windows: {window_names(display)}"
        time.sleep(0.25)


class Caller:
    """The caller running in the background, its output in a file (Wine's helpers inherit
    handles and would keep pipes open); read by name, so the writer's offset stays its own."""

    def __init__(self, runner, setup, display, *args, stdin=None, **env):
        self.path = setup.root / "caller.out"
        self.display = display
        env = setup.env(runner, DISPLAY=display, **env)
        with open(self.path, "wb") as out:
            self.proc = subprocess.Popen(
                [*runner.prefix, runner.exe, *args], env=env, stdout=out, stderr=subprocess.STDOUT, stdin=stdin
            )

    def output(self):
        return self.path.read_text(errors="replace")

    def finish(self, timeout=60):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            names = window_names(self.display)
            self.proc.kill()
            raise AssertionError(f"the caller still ran after {timeout} s; windows: {names}; output: {self.output()}")
        text = self.output()
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}: {text}"
        return [int(line[3:]) for line in text.splitlines() if line.startswith("rc=")], text


def open_window(caller, setup, display, *args, title="^New message"):
    setup.write_config(extra_top='[composer]\nkind = "window"\n')
    call = Caller(caller, setup, display, "--flags", str(MAPI_DIALOG), *args)
    wid = wait_for_window(display, call.proc, title)
    focus(display, wid)
    time.sleep(0.5)
    return call, wid


def test_window_sends_what_the_user_typed(caller, setup, display, tmp_path):
    call, wid = open_window(
        caller, setup, display, "--body", BODY, "--make-attach", f"report.txt::{ATTACHMENT}"
    )
    # Focus is in To (no recipient was given); Tab order To, Cc, Bcc, Subject.
    xdotool(display, "type", "--delay", "30", "typed@example.org")
    xdotool(display, "key", "--delay", "50", "Tab", "Tab", "Tab")
    xdotool(display, "type", "--delay", "30", "Typed subject")
    shot = tmp_path / "window.png"
    run(["import", "-display", display, "-window", wid, shot])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if SCREENSHOT and caller.name == "wine64":
        shutil.copy(shot, SCREENSHOT)
    xdotool(display, "key", "alt+s")
    codes, text = call.finish()
    assert codes == [0], text
    [msg] = setup.messages()
    assert msg["To"] == "typed@example.org"
    assert msg["Subject"] == "Typed subject"
    body, attachment = [p for p in msg.walk() if not p.is_multipart()]
    assert body.get_content().replace("\r\n", "\n") == BODY
    assert attachment.get_filename() == "report.txt"
    assert attachment.get_payload(decode=True) == ATTACHMENT.encode()


def test_escape_cancels_and_nothing_is_written(caller, setup, display):
    call, wid = open_window(
        caller, setup, display, "--subject", "Caller subject", "--make-attach", f"report.txt::{ATTACHMENT}",
        title="^New message - Caller subject$",
    )
    xdotool(display, "type", "--delay", "30", "typed@example.org")
    xdotool(display, "key", "Escape")
    codes, text = call.finish()
    assert codes == [1], text
    assert setup.files() == []


def test_unicode_through_mapisendmailw_arrives_unchanged(caller, setup, display):
    subject = "\u4e2d\u6587\u4e3b\u9898 \u0645\u0648\u0636\u0648\u0639 \U0001f4e7"
    body = "\u4f60\u597d\uff0c\u4e16\u754c\u3002\n\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\ne\u0301\n"
    call, wid = open_window(
        caller, setup, display, "--wide", "--to", "cn@example.org", "--subject", subject, "--body", body,
        title="^New message - ",
    )
    # The recipient was given, so the text has focus; Alt+S sends from there.
    xdotool(display, "key", "alt+s")
    codes, text = call.finish()
    assert codes == [0], text
    [msg] = setup.messages()
    assert msg["Subject"] == subject
    assert msg["To"] == "cn@example.org"
    assert msg.get_body().get_content().replace("\r\n", "\n") == body


def test_a_contact_name_is_sent_to_its_address(caller, setup, display):
    call, wid = open_window(caller, setup, display, "--body", BODY)
    xdotool(display, "type", "--delay", "30", "Alice Martin")
    xdotool(display, "key", "alt+s")
    codes, text = call.finish()
    assert codes == [0], text
    [msg] = setup.messages()
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"


def test_an_ambiguous_name_keeps_the_window_open_and_nothing_is_written(caller, setup, display):
    # Both contacts of the address book are called Martin.
    call, wid = open_window(caller, setup, display, "--subject", "S", title="^New message - S$")
    xdotool(display, "type", "--delay", "30", "Martin")
    xdotool(display, "key", "alt+s")
    notice = wait_for_window(display, call.proc, "^New message$", timeout=20)
    time.sleep(0.5)
    assert call.proc.poll() is None, "the call returned although the name was ambiguous"
    assert setup.files() == []
    focus(display, notice)
    xdotool(display, "key", "Return")
    time.sleep(1)
    assert call.proc.poll() is None, "the window closed with the notice"
    focus(display, wid)
    time.sleep(0.3)
    xdotool(display, "key", "Escape")
    codes, text = call.finish()
    assert codes == [1], text
    assert setup.files() == []


def poll(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_modeless_returns_at_once_and_the_window_sends_later(caller, setup, display):
    setup.write_config(extra_top='[composer]\nkind = "window"\n')
    call = Caller(
        caller, setup, display, "--flags", str(MAPI_DIALOG_MODELESS), "--linger", "--body", BODY,
        "--make-attach", f"report.txt::{ATTACHMENT}", stdin=subprocess.PIPE,
    )
    try:
        # The call returned and the caller deleted its file while the window is still up.
        poll(lambda: "returned" in call.output(), "the call to return")
        assert "rc=0" in call.output(), call.output()
        assert [p for p in setup.scratch.iterdir() if p.is_file()] == []
        wid = wait_for_window(display, call.proc)
        assert setup.files() == []
        focus(display, wid)
        time.sleep(0.5)
        xdotool(display, "type", "--delay", "30", "later@example.org")
        xdotool(display, "key", "alt+s")
        poll(lambda: setup.files(), "the message in the outbox")
    finally:
        call.proc.stdin.close()
    codes, text = call.finish()
    assert codes == [0], text
    [msg] = setup.messages()
    assert msg["To"] == "later@example.org"
    [attachment] = [p for p in msg.walk() if p.get_filename()]
    assert attachment.get_payload(decode=True) == ATTACHMENT.encode()


def test_a_backend_error_is_shown_in_the_window_and_returned(caller, setup, display, tmp_path):
    """SMTP behind the window with a wrong password: a notice before the window closes,
    then MAPI_E_LOGIN_FAILURE (3); nothing delivered or spooled."""
    ca_file, context = tls_contexts(tmp_path)
    with Server(starttls=context, auth=("accounts@example.org", "s3cret")) as server:
        setup.write_config(
            text=(
                'backend = "smtp"\nfrom = "Accounts <accounts@example.org>"\n'
                "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n"
                f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "starttls"\ntimeout_secs = 5\n'
                'username = "accounts@example.org"\npassword_env = "MAPISHIM_SMTP_PASSWORD"\n'
                "ca_file = {path:" + str(ca_file) + "}\n"
                '[composer]\nkind = "window"\n'
            )
        )
        call = Caller(
            caller, setup, display, "--flags", str(MAPI_DIALOG), "--to", "to@example.org", "--subject", "S",
            MAPISHIM_SMTP_PASSWORD="Wr0ng-Pa55",
        )
        wid = wait_for_window(display, call.proc, "^New message - S$")
        focus(display, wid)
        time.sleep(0.5)
        xdotool(display, "key", "alt+s")
        notice = wait_for_window(display, call.proc, "^New message$", timeout=30)
        assert call.proc.poll() is None, "the call returned before the user saw why"
        focus(display, notice)
        xdotool(display, "key", "Return")
        codes, text = call.finish()
    assert codes == [3], text
    assert server.messages == [] and setup.files() == []


@pytest.mark.parametrize(
    "keys",
    [
        # To, Cc, Bcc, Subject, text, attachments: the first file is selected there.
        ["Tab", "Tab", "Tab", "Tab", "Tab", "Delete"],
        # … then the Remove button.
        ["Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "space"],
    ],
    ids=["delete-key", "remove-button"],
)
def test_delete_removes_an_attachment_from_the_message(caller, setup, display, keys):
    call, wid = open_window(
        caller, setup, display, "--body", BODY,
        "--make-attach", "first.txt::first file", "--make-attach", "second.txt::second file",
    )
    xdotool(display, "type", "--delay", "30", "typed@example.org")
    xdotool(display, "key", "--delay", "50", *keys)
    time.sleep(0.3)
    xdotool(display, "key", "alt+s")
    assert sent_files(call, setup) == [("second.txt", b"second file")]


def sent_files(call, setup):
    """The files of the one message the call sent: (name, bytes) in order."""
    codes, text = call.finish()
    assert codes == [0], text
    [msg] = setup.messages()
    return [(p.get_filename(), p.get_payload(decode=True)) for p in msg.walk() if p.get_filename()]


def test_add_attaches_a_file_picked_in_the_file_dialog(caller, setup, display):
    picked = setup.root / "picked"
    picked.mkdir()
    content = bytes(range(256)) * 40
    (picked / "added.bin").write_bytes(content)
    call, wid = open_window(caller, setup, display, "--body", BODY, "--make-attach", f"report.txt::{ATTACHMENT}")
    xdotool(display, "type", "--delay", "30", "typed@example.org")
    xdotool(display, "key", "alt+d")
    dialog = wait_for_window(display, call.proc, "^Add attachments$", timeout=30)
    focus(display, dialog)
    time.sleep(1)
    xdotool(display, "type", "--delay", "20", caller.path(picked / "added.bin"))
    xdotool(display, "key", "Return")
    poll(lambda: "attachment added" in setup.log.read_text(errors="replace"), "the file to be added")
    focus(display, wid)
    time.sleep(0.5)
    xdotool(display, "key", "alt+s")
    assert sent_files(call, setup) == [("report.txt", ATTACHMENT.encode()), ("added.bin", content)]


@pytest.fixture(scope="module")
def probe(windows_dist, window_prefix, tmp_path_factory):
    """tests/c/window_probe.c: reads the compose window's controls from another process."""
    exe = wine_program(
        "wine64", windows_dist, tmp_path_factory.mktemp("probe"), C_DIR / "window_probe.c", "window_probe",
        with_dll=False, libs=("-loleacc", "-lole32", "-loleaut32", "-luuid"),
    )
    return Runner("wine64", exe, prefix=["wine"], env=wine_env(window_prefix, overrides=""))


def read_window(probe, display, prefix=None):
    """The probe's report: (window line fields, [control fields…])."""
    env = dict(os.environ, **probe.env, DISPLAY=display)
    if prefix:
        env["WINEPREFIX"] = str(prefix)
    proc = run([*probe.prefix, probe.exe], env=env, timeout=60)
    lines = proc.stdout.splitlines()
    fields = lambda line: dict(re.findall(r"(\w[\w-]*)=((?:(?! \w[\w-]*=).)*)", line))
    window = fields(next(line for line in lines if line.startswith("window ")))
    controls = [fields(line) for line in lines if line.startswith("control ")]
    return window, controls


def test_an_unresolved_name_is_marked_in_its_field_and_named_in_the_status_line(caller, setup, display, probe):
    call, wid = open_window(caller, setup, display, "--subject", "S", title="^New message - S$")
    xdotool(display, "type", "--delay", "30", "typed@example.org; Martin")
    xdotool(display, "key", "alt+s")
    notice = wait_for_window(display, call.proc, "^New message$", timeout=20)
    focus(display, notice)
    xdotool(display, "key", "Return")
    time.sleep(1)
    assert call.proc.poll() is None, "the window closed"
    window, controls = read_window(probe, display)
    [status] = [c for c in controls if c["id"] == "300"]
    assert status["text"].startswith("To: ") and '"Martin"' in status["text"], status
    to = controls[[c["text"] for c in controls].index("&To:") + 1]
    assert to["text"] == "typed@example.org; Martin"
    # The offending entry is selected (UTF-16 offsets of "Martin").
    assert to["sel"] == "19,25", to
    assert "compose window: To: " in setup.log.read_text(errors="replace")
    focus(display, wid)
    xdotool(display, "key", "Escape")
    codes, text = call.finish()
    assert codes == [1], text
    assert setup.files() == []


def test_the_owner_window_is_disabled_while_the_form_is_up_and_owns_it(caller, setup, display, windows_dist, tmp_path):
    exe = wine_program(caller.name, windows_dist, tmp_path, C_DIR / "owner_caller.c", "owner_caller")
    setup.write_config(extra_top='[composer]\nkind = "window"\n')
    runner = Runner(caller.name, exe, prefix=["wine"], env=caller.env)
    proc = run_unpiped([*runner.prefix, exe], setup.env(runner, DISPLAY=display), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "during disabled=1 owned=1" in lines, proc.stdout
    assert "rc=1" in lines and "after enabled=1" in lines, proc.stdout
    assert setup.files() == []


def test_auto_opens_the_window_when_no_mail_program_is_registered(caller, setup, display, window_prefix):
    """A fresh Wine prefix names Wine's own "Native Mail Client" (winemapi) as the default;
    the test empties Clients\\Mail in both registry views, and puts Wine's default back."""
    env = dict(os.environ, WINEPREFIX=str(window_prefix), WINEDEBUG="-all", DISPLAY=display)

    def set_default(value):
        for view in ("/reg:64", "/reg:32"):
            run(["wine", "reg", "delete", r"HKCU\Software\Clients\Mail", "/ve", "/f", view], env=env, check=False)
            key = r"HKLM\Software\Clients\Mail"
            run(["wine", "reg", "add", key, "/ve", "/t", "REG_SZ", "/d", value, "/f", view], env=env)
            query = run(["wine", "reg", "query", key, "/ve", view], env=env).stdout
            assert re.search(rf"REG_SZ\s*{re.escape(value)}\s*$", query), query

    set_default("")
    try:
        setup.write_config(extra_top='[composer]\nkind = "auto"\n')
        call = Caller(caller, setup, display, "--flags", str(MAPI_DIALOG), "--subject", "Auto")
        wid = wait_for_window(display, call.proc, "^New message - Auto$")
        focus(display, wid)
        time.sleep(0.5)
        xdotool(display, "key", "Escape")
        codes, text = call.finish()
    finally:
        set_default("Native Mail Client")
    assert codes == [1], text
    assert setup.files() == []


@pytest.fixture(scope="module")
def hidpi_prefix(display):
    """A prefix whose screen is 192 dpi (Wine's LogPixels), twice the default."""
    prefix = ROOT / "target" / "wine" / "window-prefix-192"
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEARCH="win64", DISPLAY=display)
    boot_prefix(prefix, env)
    for key in (r"HKCU\Control Panel\Desktop", r"HKLM\System\CurrentControlSet\Hardware Profiles\Current\Software\Fonts"):
        run(["wine", "reg", "add", key, "/v", "LogPixels", "/t", "REG_DWORD", "/d", "192", "/f"], env=env)
    yield prefix
    subprocess.run(["wineserver", "-k"], env=env, check=False)


def measure(runner, setup, display, probe, prefix):
    """Opens the window in `prefix`; the probe's report, xdotool's size and the log's layout line."""
    setup.log.unlink(missing_ok=True)
    call = Caller(runner, setup, display, "--flags", str(MAPI_DIALOG), "--subject", "Size")
    wid = wait_for_window(display, call.proc, "^New message - Size$")
    time.sleep(0.5)
    window, controls = read_window(probe, display, prefix)
    geometry = xdotool(display, "getwindowgeometry", wid).stdout
    width, height = map(int, re.search(r"Geometry: (\d+)x(\d+)", geometry).groups())
    focus(display, wid)
    xdotool(display, "key", "Escape")
    codes, text = call.finish()
    assert codes == [1], text
    layout = re.search(r"compose window: laid out.*", setup.log.read_text(errors="replace")).group(0)
    return window, controls, (width, height), layout


def test_the_window_follows_the_screen_dpi_and_the_message_font(caller, setup, display, probe, hidpi_prefix, window_prefix):
    setup.write_config(extra_top='[composer]\nkind = "window"\n')
    at96 = measure(caller, setup, display, probe, window_prefix)
    hidpi = Runner(caller.name, caller.exe, prefix=caller.prefix, env=wine_env(hidpi_prefix))
    at192 = measure(hidpi, setup, display, probe, hidpi_prefix)
    assert at96[0]["dpi"] == "96" and at192[0]["dpi"] == "192", (at96[0], at192[0])
    for axis in (0, 1):
        ratio = at192[2][axis] / at96[2][axis]
        assert 1.8 < ratio < 2.2, (at96[2], at192[2])
    assert 1.8 < int(at192[0]["width"]) / int(at96[0]["width"]) < 2.2, (at96[0], at192[0])
    # The system's message font, scaled with the DPI.
    heights = [abs(int(re.search(r"font_height=(-?\d+)", l).group(1))) for l in (at96[3], at192[3])]
    assert heights[0] > 0 and 1.7 < heights[1] / heights[0] < 2.3, (at96[3], at192[3])


def test_every_control_has_a_label_and_an_accessible_name(caller, setup, display, probe):
    """What a screen reader gets through oleacc (AccessibleObjectFromWindow, get_accName)."""
    call, wid = open_window(caller, setup, display, "--subject", "Names", title="^New message - Names$")
    window, controls = read_window(probe, display)
    focus(display, wid)
    xdotool(display, "key", "Escape")
    codes, text = call.finish()
    assert codes == [1], text
    shown = lambda text: text.replace("&", "")
    expected = []
    for before, control in zip([None, *controls], controls):
        if control["class"] in ("Edit", "ListBox"):
            # Labelled by the static text just before it, as Windows names such controls.
            assert before and before["class"] == "Static" and before["text"], (before, control)
            expected.append((control["class"], shown(before["text"])))
        elif control["class"] == "Button":
            expected.append((control["class"], shown(control["text"])))
    names = [(c["class"], c.get("name", c.get("name-error"))) for c in controls if c["class"] != "Static"]
    assert names == expected
    assert [n for _, n in expected] == [
        "From:", "To:", "Cc:", "Bcc:", "Subject:", "Message:", "Attachments:", "Remove", "Add...", "Send", "Cancel",
    ]
