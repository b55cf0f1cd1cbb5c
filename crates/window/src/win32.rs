//! The window itself: plain Win32 controls made with `CreateWindowExW`, UTF-16 throughout,
//! and a modal message loop of our own (so no dialog template or resource compiler).
//! Places are in 96-dpi units, scaled to the window's DPI (per-monitor aware where Windows
//! has it) and laid out again on `WM_DPICHANGED`, in the system's message font.
use crate::{Listed, Problem, attachment_line, chosen_files, field_text, finish, title};
use mapishim_core::attachment::read_attachment;
use mapishim_core::compose::MAX_ATTACHMENTS;
use mapishim_core::{Delivery, MapiCode, MapiError, Message, Outgoing, Result};
use std::ffi::{CStr, c_void};
use std::ptr::{null, null_mut};
use windows_sys::Win32::Foundation::{HINSTANCE, HWND, LPARAM, LRESULT, RECT, WPARAM};
use windows_sys::Win32::Graphics::Gdi::{
    COLOR_BTNFACE, CreateFontIndirectW, DEFAULT_GUI_FONT, DeleteObject, GetDC, GetDeviceCaps,
    GetStockObject, GetSysColorBrush, HFONT, LOGPIXELSY, ReleaseDC,
};
use windows_sys::Win32::System::LibraryLoader::{
    GetModuleHandleW, GetProcAddress, LOAD_LIBRARY_SEARCH_SYSTEM32, LoadLibraryExW,
};
use windows_sys::Win32::System::Registry::{
    HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW,
};
use windows_sys::Win32::UI::Controls::Dialogs::{
    OFN_ALLOWMULTISELECT, OFN_EXPLORER, OFN_FILEMUSTEXIST, OFN_HIDEREADONLY, OFN_NOCHANGEDIR,
    OFN_PATHMUSTEXIST, OPENFILENAMEW,
};
use windows_sys::Win32::UI::Controls::{EM_SETLIMITTEXT, EM_SETSEL};
use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
    EnableWindow, GetKeyState, SetFocus, VK_CONTROL, VK_DELETE, VK_ESCAPE, VK_RETURN, VK_SHIFT,
    VK_TAB,
};
use windows_sys::Win32::UI::WindowsAndMessaging::*;

/// `SS_NOPREFIX` (in windows-sys only with the SystemServices feature): `&` is shown as is.
const SS_NOPREFIX: u32 = 0x80;
const ID_SEND: usize = 100;
const ID_REMOVE: usize = 101;
const ID_ADD: usize = 102;
/// The status line: tests and tools find it by this ID.
const ID_STATUS: usize = 300;
const WM_APP_SEND: u32 = WM_APP + 1;
const WM_APP_CANCEL: u32 = WM_APP + 2;
const WM_APP_REMOVE: u32 = WM_APP + 3;
const WM_APP_ADD: u32 = WM_APP + 4;
const WM_APP_DPI: u32 = WM_APP + 5;
const CLASS: &str = "mapishim.compose";
/// The client area at 96 dpi.
const CLIENT: (i32, i32) = (584, 498);
const STYLE: u32 = WS_OVERLAPPED | WS_CAPTION | WS_SYSMENU | WS_MINIMIZEBOX;
const EX_STYLE: u32 = WS_EX_DLGMODALFRAME | WS_EX_CONTROLPARENT;
/// `DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2`, then `…_PER_MONITOR_AWARE`.
const PER_MONITOR: [isize; 2] = [-4, -3];

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain([0]).collect()
}

/// The controls the loop reads and moves focus between.
struct Form {
    hwnd: HWND,
    fields: [HWND; 3],
    subject: HWND,
    body: HWND,
    attachments: HWND,
    status: HWND,
    /// Every control with its place at 96 dpi, for the layout at the window's DPI.
    placed: Vec<(HWND, [i32; 4])>,
    font: HFONT,
}

/// A function of a system DLL, looked up when needed: the DPI functions exist only since
/// Windows 10, and comdlg32 (with the shell it pulls in) is loaded only when the user adds
/// a file, not into every program that loads mapi32.
///
/// # Safety
/// `F` must be the `extern "system"` function pointer type of `name`.
unsafe fn system_function<F: Copy>(dll: &str, name: &CStr) -> Option<F> {
    let dll = wide(dll);
    // SAFETY: NUL-terminated names; a module already loaded is found, else loaded from
    // System32 only (never from the caller's folder). It is never freed.
    let module = unsafe {
        let loaded = GetModuleHandleW(dll.as_ptr());
        if loaded.is_null() {
            LoadLibraryExW(dll.as_ptr(), null_mut(), LOAD_LIBRARY_SEARCH_SYSTEM32)
        } else {
            loaded
        }
    };
    if module.is_null() {
        return None;
    }
    // SAFETY: a module handle and a NUL-terminated name.
    let found = unsafe { GetProcAddress(module, name.as_ptr().cast()) }?;
    assert_eq!(size_of::<F>(), size_of_val(&found));
    // SAFETY: the caller names the function's true type; both are function pointers.
    Some(unsafe { std::mem::transmute_copy(&found) })
}

type SetDpiContext = unsafe extern "system" fn(isize) -> isize;
type DpiForWindow = unsafe extern "system" fn(HWND) -> u32;
type AdjustForDpi = unsafe extern "system" fn(*mut RECT, u32, i32, u32, u32) -> i32;
type ParametersForDpi = unsafe extern "system" fn(u32, u32, *mut c_void, u32, u32) -> i32;
type OpenFileName = unsafe extern "system" fn(*mut OPENFILENAMEW) -> i32;

fn scale(value: i32, dpi: u32) -> i32 {
    (i64::from(value) * i64::from(dpi) / 96) as i32
}

/// The screen's DPI, where Windows has no per-window DPI.
fn system_dpi() -> u32 {
    // SAFETY: the screen's DC, released at once.
    unsafe {
        let dc = GetDC(null_mut());
        let dpi = GetDeviceCaps(dc, LOGPIXELSY as i32);
        ReleaseDC(null_mut(), dc);
        u32::try_from(dpi).ok().filter(|&d| d > 0).unwrap_or(96)
    }
}

fn window_dpi(hwnd: HWND) -> u32 {
    // SAFETY: GetDpiForWindow's signature; hwnd is our window (0 if it is not).
    let dpi = unsafe {
        system_function::<DpiForWindow>("user32.dll", c"GetDpiForWindow").map_or(0, |f| f(hwnd))
    };
    if dpi == 0 { system_dpi() } else { dpi }
}

/// The system's message font at `dpi` (a new font, for the caller to delete), and its
/// height for the log.
fn message_font(dpi: u32) -> (HFONT, i32) {
    // SAFETY: NONCLIENTMETRICSW is plain data; all-zero is valid before the call fills it.
    let mut metrics: NONCLIENTMETRICSW = unsafe { std::mem::zeroed() };
    metrics.cbSize = size_of::<NONCLIENTMETRICSW>() as u32;
    let size = metrics.cbSize;
    let out = (&raw mut metrics).cast::<c_void>();
    // SAFETY: the signatures named; `metrics` is as large as cbSize says.
    let got = unsafe {
        match system_function::<ParametersForDpi>("user32.dll", c"SystemParametersInfoForDpi") {
            Some(f) => f(SPI_GETNONCLIENTMETRICS, size, out, 0, dpi) != 0,
            None => {
                let got = SystemParametersInfoW(SPI_GETNONCLIENTMETRICS, size, out, 0) != 0;
                let font = &mut metrics.lfMessageFont;
                font.lfHeight =
                    (i64::from(font.lfHeight) * i64::from(dpi) / i64::from(system_dpi())) as i32;
                got
            }
        }
    };
    // SAFETY: a filled LOGFONTW; the stock font when there is none (deleting it is a no-op).
    unsafe {
        match got {
            true => (
                CreateFontIndirectW(&metrics.lfMessageFont),
                metrics.lfMessageFont.lfHeight,
            ),
            false => (GetStockObject(DEFAULT_GUI_FONT), 0),
        }
    }
}

/// Moves every control to its place at `dpi`, in the message font for it; the window
/// itself is sized by `create` or by `WM_DPICHANGED`.
fn lay_out(form: &mut Form, dpi: u32) {
    let (font, height) = message_font(dpi);
    tracing::info!(dpi, font_height = height, "compose window: laid out");
    for &(control, [x, y, w, h]) in &form.placed {
        // SAFETY: our own children; WM_SETFONT takes a font handle and a redraw flag.
        unsafe {
            MoveWindow(
                control,
                scale(x, dpi),
                scale(y, dpi),
                scale(w, dpi),
                scale(h, dpi),
                1,
            );
            SendMessageW(control, WM_SETFONT, font as WPARAM, 1);
        }
    }
    // SAFETY: the previous font is no longer selected by any control.
    unsafe { DeleteObject(std::mem::replace(&mut form.font, font)) };
}

/// The window's outer size for the client area at `dpi`.
fn outer_size(dpi: u32) -> (i32, i32) {
    let mut rect = RECT {
        left: 0,
        top: 0,
        right: scale(CLIENT.0, dpi),
        bottom: scale(CLIENT.1, dpi),
    };
    // SAFETY: the signatures named; `rect` is ours.
    unsafe {
        match system_function::<AdjustForDpi>("user32.dll", c"AdjustWindowRectExForDpi") {
            Some(f) => f(&mut rect, STYLE, 0, EX_STYLE, dpi),
            None => AdjustWindowRectEx(&mut rect, STYLE, 0, EX_STYLE),
        }
    };
    (rect.right - rect.left, rect.bottom - rect.top)
}

/// Shows the window for `message` until the user sends or cancels.
pub fn run(message: &Message, owner: usize, outgoing: &dyn Outgoing) -> Result<Delivery> {
    let owner = owner as HWND;
    // SAFETY: IsWindow accepts any value and only answers whether it is a window handle.
    let owner = if !owner.is_null() && unsafe { IsWindow(owner) } != 0 {
        owner
    } else {
        std::ptr::null_mut()
    };
    let class = wide(CLASS);
    // SAFETY: NULL asks for the calling process's module; nothing is freed.
    let instance = unsafe { GetModuleHandleW(null()) };
    let wc = WNDCLASSEXW {
        cbSize: size_of::<WNDCLASSEXW>() as u32,
        style: 0,
        lpfnWndProc: Some(window_proc),
        cbClsExtra: 0,
        cbWndExtra: 0,
        hInstance: instance,
        hIcon: std::ptr::null_mut(),
        // SAFETY: a system cursor by its predefined ID; NULL instance is required for those.
        hCursor: unsafe { LoadCursorW(std::ptr::null_mut(), IDC_ARROW) },
        // SAFETY: a system brush, owned by the system.
        hbrBackground: unsafe { GetSysColorBrush(COLOR_BTNFACE) },
        lpszMenuName: null(),
        lpszClassName: class.as_ptr(),
        hIconSm: std::ptr::null_mut(),
    };
    // SAFETY: `wc` and the class name outlive the call; a second registration of the same
    // class fails harmlessly and the existing one (same procedure) is used.
    unsafe { RegisterClassExW(&wc) };
    // Per-monitor DPI for this window only (the caller's own windows keep theirs): the
    // thread's context while the window and its controls are made, then the old one back.
    // SAFETY: SetThreadDpiAwarenessContext's signature; it refuses unknown contexts (0).
    let previous = unsafe {
        system_function::<SetDpiContext>("user32.dll", c"SetThreadDpiAwarenessContext").and_then(
            |f| {
                PER_MONITOR
                    .iter()
                    .map(|&c| f(c))
                    .find(|&p| p != 0)
                    .map(|p| (f, p))
            },
        )
    };
    let form = create(message, owner, instance, &class);
    if let Some((set, previous)) = previous {
        // SAFETY: the context this thread had.
        unsafe { set(previous) };
    }
    let mut form = form?;
    if !owner.is_null() {
        // SAFETY: a valid window handle (checked above); disabling makes the window modal.
        unsafe { EnableWindow(owner, 0) };
    }
    let result = pump(&mut form, message, outgoing);
    // SAFETY: the owner is enabled before our window goes, so activation returns to it;
    // the form's handle was made by `create` and is destroyed once.
    unsafe {
        if !owner.is_null() {
            EnableWindow(owner, 1);
        }
        DestroyWindow(form.hwnd);
        DeleteObject(form.font);
        UnregisterClassW(class.as_ptr(), instance);
    }
    result
}

/// Makes the window and its controls, in Tab order, pre-filled from the request.
fn create(message: &Message, owner: HWND, instance: HINSTANCE, class: &[u16]) -> Result<Form> {
    let caption = wide(&title(&message.subject));
    // SAFETY: class and caption are NUL-terminated and outlive the call; owner is NULL or
    // a window. The size is set once the window's DPI is known.
    let hwnd = unsafe {
        CreateWindowExW(
            EX_STYLE,
            class.as_ptr(),
            caption.as_ptr(),
            STYLE,
            CW_USEDEFAULT,
            CW_USEDEFAULT,
            CLIENT.0,
            CLIENT.1,
            owner,
            null_mut(),
            instance,
            null(),
        )
    };
    if hwnd.is_null() {
        return Err(MapiError::failure(
            "the compose window could not be created",
        ));
    }
    let mut placed = Vec::new();
    let mut control = |kind: &str, text: &str, style: u32, ex: u32, place: [i32; 4], id: usize| {
        let (kind, text) = (wide(kind), wide(text));
        // SAFETY: strings outlive the call; hwnd is our window; the id is the child's menu.
        let child = unsafe {
            CreateWindowExW(
                ex,
                kind.as_ptr(),
                text.as_ptr(),
                WS_CHILD | WS_VISIBLE | style,
                0,
                0,
                0,
                0,
                hwnd,
                id as HMENU,
                instance,
                null(),
            )
        };
        placed.push((child, place));
        child
    };
    let edit = WS_TABSTOP | ES_AUTOHSCROLL as u32;
    let mut row = 12;
    // Each label comes just before its control: screen readers name the control after it.
    let mut labelled = |label: &str, text: &str, style: u32| {
        control("STATIC", label, 0, 0, [12, row + 3, 80, 20], 0);
        let field = control("EDIT", text, style, WS_EX_CLIENTEDGE, [96, row, 476, 22], 0);
        row += 30;
        field
    };
    labelled(
        "From:",
        &field_text(std::slice::from_ref(&message.from)),
        ES_READONLY as u32 | ES_AUTOHSCROLL as u32,
    );
    let to = labelled("&To:", &field_text(&message.to), edit);
    let cc = labelled("&Cc:", &field_text(&message.cc), edit);
    let bcc = labelled("&Bcc:", &field_text(&message.bcc), edit);
    let subject = labelled("S&ubject:", &message.subject, edit);
    control("STATIC", "&Message:", 0, 0, [12, row + 3, 80, 20], 0);
    let body = control(
        "EDIT",
        &message.body,
        WS_TABSTOP | WS_VSCROLL | (ES_MULTILINE | ES_AUTOVSCROLL | ES_WANTRETURN) as u32,
        WS_EX_CLIENTEDGE,
        [96, row, 476, 220],
        0,
    );
    // SAFETY: 0 lifts the 30 000-character default limit of an edit control.
    unsafe { SendMessageW(body, EM_SETLIMITTEXT, 0, 0) };
    row += 228;
    control("STATIC", "&Attachments:", 0, 0, [12, row + 3, 80, 20], 0);
    // The list's own (unshown) text is its label: Windows' oleacc names a list box after the
    // label before it, Wine's after the list's text.
    let list = control(
        "LISTBOX",
        "Attachments:",
        WS_TABSTOP | WS_VSCROLL | LBS_NOINTEGRALHEIGHT as u32,
        WS_EX_CLIENTEDGE,
        [96, row, 380, 60],
        0,
    );
    for attachment in &message.attachments {
        add_line(
            list,
            &attachment_line(&attachment.file_name, attachment.data.len()),
        );
    }
    // SAFETY: selects the first line (none when the list is empty), so Remove has a target.
    unsafe { SendMessageW(list, LB_SETCURSEL, 0, 0) };
    let push = WS_TABSTOP | BS_PUSHBUTTON as u32;
    control("BUTTON", "&Remove", push, 0, [486, row, 86, 26], ID_REMOVE);
    control(
        "BUTTON",
        "A&dd...",
        push,
        0,
        [486, row + 34, 86, 26],
        ID_ADD,
    );
    row += 70;
    let status = control(
        "STATIC",
        "",
        SS_NOPREFIX,
        0,
        [12, row + 5, 372, 20],
        ID_STATUS,
    );
    control(
        "BUTTON",
        "&Send",
        WS_TABSTOP | BS_DEFPUSHBUTTON as u32,
        0,
        [392, row, 86, 26],
        ID_SEND,
    );
    control(
        "BUTTON",
        "Cancel",
        push,
        0,
        [486, row, 86, 26],
        IDCANCEL as usize,
    );
    let mut form = Form {
        hwnd,
        fields: [to, cc, bcc],
        subject,
        body,
        attachments: list,
        status,
        placed,
        // SAFETY: a stock object; deleting it later is a no-op.
        font: unsafe { GetStockObject(DEFAULT_GUI_FONT) },
    };
    let dpi = window_dpi(hwnd);
    lay_out(&mut form, dpi);
    let (width, height) = outer_size(dpi);
    let given = [&message.to, &message.cc, &message.bcc]
        .iter()
        .any(|l| !l.is_empty());
    // SAFETY: our own window and one of its children.
    unsafe {
        SetWindowPos(
            hwnd,
            null_mut(),
            0,
            0,
            width,
            height,
            SWP_NOMOVE | SWP_NOZORDER,
        );
        ShowWindow(hwnd, SW_SHOW);
        SetForegroundWindow(hwnd);
        SetFocus(if given { body } else { to });
    }
    Ok(form)
}

fn add_line(list: HWND, line: &str) {
    let line = wide(line);
    // SAFETY: LB_ADDSTRING copies the NUL-terminated string.
    unsafe { SendMessageW(list, LB_ADDSTRING, 0, line.as_ptr() as LPARAM) };
}

/// The modal loop: our keys first, then the dialog keys (Tab, mnemonics), then dispatch.
fn pump(form: &mut Form, message: &Message, outgoing: &dyn Outgoing) -> Result<Delivery> {
    // SAFETY: MSG is plain data; all-zero is a valid value.
    let mut msg: MSG = unsafe { std::mem::zeroed() };
    // The files in the list, in its order.
    let mut listed: Vec<Listed> = (0..message.attachments.len()).map(Listed::Given).collect();
    loop {
        // SAFETY: `msg` is ours to fill; NULL takes every window of this thread (the owner's
        // too, as in any modal loop).
        let got = unsafe { GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) };
        if got <= 0 {
            // WM_QUIT belongs to the caller's loop: hand it back and give up the message.
            // SAFETY: re-posts the quit code to this thread.
            unsafe { PostQuitMessage(msg.wParam as i32) };
            return Err(aborted());
        }
        // SAFETY: both handles are ours or NULL; IsChild only compares.
        let ours = msg.hwnd == form.hwnd || unsafe { IsChild(form.hwnd, msg.hwnd) } != 0;
        // SAFETY: GetKeyState reads this thread's key state.
        let ctrl = unsafe { GetKeyState(VK_CONTROL as i32) } < 0;
        let key = msg.wParam as u16;
        let send = (ours && msg.message == WM_APP_SEND)
            || (ours && msg.message == WM_SYSKEYDOWN && key == u16::from(b'S'))
            || (msg.hwnd == form.body && msg.message == WM_KEYDOWN && key == VK_RETURN && ctrl);
        let cancel = (ours && msg.message == WM_APP_CANCEL)
            || (ours && msg.message == WM_KEYDOWN && key == VK_ESCAPE);
        if cancel {
            tracing::info!("compose window cancelled: nothing sent");
            return Err(aborted());
        }
        // A multi-line edit keeps Tab for itself; here Tab leaves it (Ctrl+Tab types one).
        if msg.hwnd == form.body && msg.message == WM_KEYDOWN && key == VK_TAB && !ctrl {
            // SAFETY: GetKeyState reads this thread's key state; the handles are ours.
            unsafe {
                let back = i32::from(GetKeyState(VK_SHIFT as i32) < 0);
                SetFocus(GetNextDlgTabItem(form.hwnd, form.body, back));
            }
            continue;
        }
        let delete = msg.hwnd == form.attachments && msg.message == WM_KEYDOWN && key == VK_DELETE;
        if delete || (ours && msg.message == WM_APP_REMOVE) {
            remove_selected(form.attachments, &mut listed);
            continue;
        }
        if ours && msg.message == WM_APP_ADD {
            add_files(form, &mut listed);
            continue;
        }
        if ours && msg.message == WM_APP_DPI {
            lay_out(form, msg.wParam as u32);
            continue;
        }
        if send {
            if let Some(result) = try_send(form, message, &listed, outgoing) {
                return result;
            }
            continue;
        }
        // SAFETY: our window and a message this thread received.
        if ours && unsafe { IsDialogMessageW(form.hwnd, &msg) } != 0 {
            continue;
        }
        // SAFETY: the usual translate-and-dispatch of a received message.
        unsafe {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

/// Remove (or Delete in the list): the selected file leaves the message.
fn remove_selected(list: HWND, kept: &mut Vec<Listed>) {
    // SAFETY: list-box messages to our own list; indexes are checked against `kept`.
    unsafe {
        let selected = SendMessageW(list, LB_GETCURSEL, 0, 0);
        let Ok(index) = usize::try_from(selected) else {
            return;
        };
        if index >= kept.len() {
            return;
        }
        SendMessageW(list, LB_DELETESTRING, index, 0);
        kept.remove(index);
        if !kept.is_empty() {
            SendMessageW(list, LB_SETCURSEL, index.min(kept.len() - 1), 0);
        }
    }
}

/// Add…: the standard file dialog (several files at once); each file is read now, as a
/// caller's attachment is, so what is sent is what the user saw listed.
fn add_files(form: &Form, listed: &mut Vec<Listed>) {
    // SAFETY: GetOpenFileNameW's signature.
    let Some(open) =
        (unsafe { system_function::<OpenFileName>("comdlg32.dll", c"GetOpenFileNameW") })
    else {
        return status(form, "The file dialog is not available.");
    };
    let mut buffer = vec![0u16; 32 * 1024];
    let title = wide("Add attachments");
    // SAFETY: OPENFILENAMEW is plain data; all-zero is valid before the fields below.
    let mut dialog: OPENFILENAMEW = unsafe { std::mem::zeroed() };
    dialog.lStructSize = size_of::<OPENFILENAMEW>() as u32;
    dialog.hwndOwner = form.hwnd;
    dialog.lpstrFile = buffer.as_mut_ptr();
    dialog.nMaxFile = buffer.len() as u32;
    dialog.lpstrTitle = title.as_ptr();
    dialog.Flags = OFN_ALLOWMULTISELECT
        | OFN_EXPLORER
        | OFN_FILEMUSTEXIST
        | OFN_PATHMUSTEXIST
        | OFN_HIDEREADONLY
        | OFN_NOCHANGEDIR;
    // SAFETY: the buffer and title outlive the modal call; nMaxFile is the buffer's length.
    if unsafe { open(&mut dialog) } == 0 {
        return;
    }
    for path in chosen_files(&buffer) {
        if listed.len() >= MAX_ATTACHMENTS {
            return status(form, &format!("At most {MAX_ATTACHMENTS} attachments."));
        }
        match read_attachment(&path, "") {
            Ok(attachment) => {
                add_line(
                    form.attachments,
                    &attachment_line(&attachment.file_name, attachment.data.len()),
                );
                tracing::info!(file = %path.display(), bytes = attachment.data.len(), "compose window: attachment added");
                listed.push(Listed::Added(attachment));
            }
            Err(e) => {
                let why = format!("Not attached: {}", e.detail());
                status(form, &why);
                tell(form.hwnd, &why);
            }
        }
    }
    // SAFETY: selects the last line, the file just added.
    unsafe {
        SendMessageW(
            form.attachments,
            LB_SETCURSEL,
            listed.len().saturating_sub(1),
            0,
        )
    };
}

/// The status line's text, also logged (tools and tests read either).
fn status(form: &Form, text: &str) {
    tracing::info!("compose window: {text}");
    let text = wide(text);
    // SAFETY: our status control; the text is NUL-terminated.
    unsafe { SetWindowTextW(form.status, text.as_ptr()) };
}

/// The default value of `Software\Clients\Mail`, per user then per machine, when set.
pub fn default_mail_client() -> Option<String> {
    let key = wide(r"Software\Clients\Mail");
    [HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE]
        .into_iter()
        .find_map(|root| {
            let mut buffer = [0u16; 256];
            let mut bytes = size_of_val(&buffer) as u32;
            // SAFETY: the key name is NUL-terminated; NULL value name is the default value;
            // `bytes` is the buffer's size, and RegGetValueW NUL-terminates what it writes.
            let status = unsafe {
                RegGetValueW(
                    root,
                    key.as_ptr(),
                    null(),
                    RRF_RT_REG_SZ,
                    null_mut(),
                    buffer.as_mut_ptr().cast(),
                    &mut bytes,
                )
            };
            let len = buffer.iter().position(|&c| c == 0).unwrap_or(0);
            (status == 0 && len > 0).then(|| String::from_utf16_lossy(&buffer[..len]))
        })
}

fn aborted() -> MapiError {
    MapiError::new(MapiCode::UserAbort, "the user closed the compose window")
}

/// Resolves and sends; `None` keeps the window open (a name to fix, no recipient).
fn try_send(
    form: &Form,
    message: &Message,
    listed: &[Listed],
    outgoing: &dyn Outgoing,
) -> Option<Result<Delivery>> {
    let fields = form.fields.map(text_of);
    let [to, cc, bcc] = &fields;
    let finished = match finish(
        message,
        [to, cc, bcc],
        &text_of(form.subject),
        &text_of(form.body),
        listed,
        outgoing,
    ) {
        Ok(m) => m,
        Err(Problem { field, span, why }) => {
            // The field is marked after the notice: it takes the focus while it is up.
            status(form, &why);
            tell(form.hwnd, &why);
            let (start, end) = span.unwrap_or((0, usize::MAX));
            // SAFETY: a child of our window; EM_SETSEL selects the entry to fix.
            unsafe {
                SetFocus(form.fields[field]);
                SendMessageW(form.fields[field], EM_SETSEL, start, end as LPARAM);
            }
            return None;
        }
    };
    let result = outgoing.send(finished);
    if let Err(e) = &result {
        // The user is told why before the window closes (the caller gets the code).
        let why = format!("The message was not sent: {}", e.detail());
        status(form, &why);
        tell(form.hwnd, &why);
    }
    Some(result)
}

fn tell(hwnd: HWND, text: &str) {
    let (text, caption) = (wide(text), wide("New message"));
    // SAFETY: both strings are NUL-terminated and outlive the call.
    unsafe {
        MessageBoxW(
            hwnd,
            text.as_ptr(),
            caption.as_ptr(),
            MB_OK | MB_ICONWARNING,
        )
    };
}

fn text_of(hwnd: HWND) -> String {
    // SAFETY: a window of ours; the length excludes the NUL.
    let len = unsafe { GetWindowTextLengthW(hwnd) }.max(0) as usize;
    let mut buffer = vec![0u16; len + 1];
    // SAFETY: the buffer holds len + 1 UTF-16 units, as told.
    let got = unsafe { GetWindowTextW(hwnd, buffer.as_mut_ptr(), buffer.len() as i32) };
    String::from_utf16_lossy(&buffer[..got.max(0) as usize])
}

/// Turns the window's commands into messages for `pump`, which has the state.
unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    let post = |m| {
        // SAFETY: posting to our own window.
        unsafe { PostMessageW(hwnd, m, 0, 0) };
        0
    };
    match msg {
        WM_COMMAND if wparam & 0xFFFF == ID_SEND => post(WM_APP_SEND),
        WM_COMMAND if wparam & 0xFFFF == IDCANCEL as usize => post(WM_APP_CANCEL),
        WM_COMMAND if wparam & 0xFFFF == ID_REMOVE => post(WM_APP_REMOVE),
        WM_COMMAND if wparam & 0xFFFF == ID_ADD => post(WM_APP_ADD),
        WM_CLOSE => post(WM_APP_CANCEL),
        WM_DPICHANGED => {
            // SAFETY: WM_DPICHANGED's lParam is the suggested window rectangle.
            unsafe {
                let r = &*(lparam as *const RECT);
                let (w, h) = (r.right - r.left, r.bottom - r.top);
                SetWindowPos(
                    hwnd,
                    null_mut(),
                    r.left,
                    r.top,
                    w,
                    h,
                    SWP_NOZORDER | SWP_NOACTIVATE,
                );
                PostMessageW(hwnd, WM_APP_DPI, wparam & 0xFFFF, 0);
            }
            0
        }
        // SAFETY: the default handling of everything else, with the arguments received.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}
