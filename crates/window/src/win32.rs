//! The window itself: plain Win32 controls made with `CreateWindowExW`, UTF-16 throughout,
//! and a modal message loop of our own (so no dialog template or resource compiler).
use crate::{attachment_line, field_text, finish, title};
use mapishim_core::{Delivery, MapiCode, MapiError, Message, Outgoing, Result};
use std::ptr::null;
use windows_sys::Win32::Foundation::{HINSTANCE, HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::Graphics::Gdi::{
    COLOR_BTNFACE, DEFAULT_GUI_FONT, GetStockObject, GetSysColorBrush,
};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Controls::EM_SETLIMITTEXT;
use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
    EnableWindow, GetKeyState, SetFocus, VK_CONTROL, VK_DELETE, VK_ESCAPE, VK_RETURN, VK_SHIFT,
    VK_TAB,
};
use windows_sys::Win32::UI::WindowsAndMessaging::*;

const ID_SEND: usize = 100;
const WM_APP_SEND: u32 = WM_APP + 1;
const WM_APP_CANCEL: u32 = WM_APP + 2;
const CLASS: &str = "mapishim.compose";

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
    let form = create(message, owner, instance, &class)?;
    if !owner.is_null() {
        // SAFETY: a valid window handle (checked above); disabling makes the window modal.
        unsafe { EnableWindow(owner, 0) };
    }
    let result = pump(&form, message, outgoing);
    // SAFETY: the owner is enabled before our window goes, so activation returns to it;
    // the form's handle was made by `create` and is destroyed once.
    unsafe {
        if !owner.is_null() {
            EnableWindow(owner, 1);
        }
        DestroyWindow(form.hwnd);
        UnregisterClassW(class.as_ptr(), instance);
    }
    result
}

/// Makes the window and its controls, in Tab order, pre-filled from the request.
fn create(message: &Message, owner: HWND, instance: HINSTANCE, class: &[u16]) -> Result<Form> {
    let caption = wide(&title(&message.subject));
    // SAFETY: class and caption are NUL-terminated and outlive the call; owner is NULL or
    // a window.
    let hwnd = unsafe {
        CreateWindowExW(
            WS_EX_DLGMODALFRAME | WS_EX_CONTROLPARENT,
            class.as_ptr(),
            caption.as_ptr(),
            WS_OVERLAPPED | WS_CAPTION | WS_SYSMENU | WS_MINIMIZEBOX,
            CW_USEDEFAULT,
            CW_USEDEFAULT,
            600,
            540,
            owner,
            std::ptr::null_mut(),
            instance,
            null(),
        )
    };
    if hwnd.is_null() {
        return Err(MapiError::failure(
            "the compose window could not be created",
        ));
    }
    // SAFETY: a stock object, never freed.
    let font = unsafe { GetStockObject(DEFAULT_GUI_FONT) } as WPARAM;
    let control = |kind: &str,
                   text: &str,
                   style: u32,
                   ex: u32,
                   (x, y, w, h): (i32, i32, i32, i32),
                   id: usize| {
        let (kind, text) = (wide(kind), wide(text));
        // SAFETY: strings outlive the call; hwnd is our window; the id is the child's menu.
        let child = unsafe {
            CreateWindowExW(
                ex,
                kind.as_ptr(),
                text.as_ptr(),
                WS_CHILD | WS_VISIBLE | style,
                x,
                y,
                w,
                h,
                hwnd,
                id as HMENU,
                instance,
                null(),
            )
        };
        // SAFETY: WM_SETFONT takes a font handle and a redraw flag.
        unsafe { SendMessageW(child, WM_SETFONT, font, 1) };
        child
    };
    let edit = WS_TABSTOP | ES_AUTOHSCROLL as u32;
    let mut row = 12;
    let mut labelled = |label: &str, text: &str, style: u32| {
        control("STATIC", label, 0, 0, (12, row + 3, 80, 20), 0);
        let field = control("EDIT", text, style, WS_EX_CLIENTEDGE, (96, row, 476, 22), 0);
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
    control("STATIC", "&Message:", 0, 0, (12, row + 3, 80, 20), 0);
    let body = control(
        "EDIT",
        &message.body,
        WS_TABSTOP | WS_VSCROLL | (ES_MULTILINE | ES_AUTOVSCROLL | ES_WANTRETURN) as u32,
        WS_EX_CLIENTEDGE,
        (96, row, 476, 220),
        0,
    );
    // SAFETY: 0 lifts the 30 000-character default limit of an edit control.
    unsafe { SendMessageW(body, EM_SETLIMITTEXT, 0, 0) };
    row += 228;
    control("STATIC", "&Attachments:", 0, 0, (12, row + 3, 80, 20), 0);
    let list = control(
        "LISTBOX",
        "",
        WS_TABSTOP | WS_VSCROLL | LBS_NOINTEGRALHEIGHT as u32,
        WS_EX_CLIENTEDGE,
        (96, row, 476, 60),
        0,
    );
    for attachment in &message.attachments {
        let line = wide(&attachment_line(
            &attachment.file_name,
            attachment.data.len(),
        ));
        // SAFETY: LB_ADDSTRING copies the NUL-terminated string.
        unsafe { SendMessageW(list, LB_ADDSTRING, 0, line.as_ptr() as LPARAM) };
    }
    // SAFETY: selects the first line (none when the list is empty), so Delete has a target.
    unsafe { SendMessageW(list, LB_SETCURSEL, 0, 0) };
    row += 70;
    control(
        "BUTTON",
        "&Send",
        WS_TABSTOP | BS_DEFPUSHBUTTON as u32,
        0,
        (392, row, 86, 26),
        ID_SEND,
    );
    control(
        "BUTTON",
        "Cancel",
        WS_TABSTOP | BS_PUSHBUTTON as u32,
        0,
        (486, row, 86, 26),
        IDCANCEL as usize,
    );
    let given = [&message.to, &message.cc, &message.bcc]
        .iter()
        .any(|l| !l.is_empty());
    // SAFETY: our own window and one of its children.
    unsafe {
        ShowWindow(hwnd, SW_SHOW);
        SetForegroundWindow(hwnd);
        SetFocus(if given { body } else { to });
    }
    Ok(Form {
        hwnd,
        fields: [to, cc, bcc],
        subject,
        body,
        attachments: list,
    })
}

/// The modal loop: our keys first, then the dialog keys (Tab, mnemonics), then dispatch.
fn pump(form: &Form, message: &Message, outgoing: &dyn Outgoing) -> Result<Delivery> {
    // SAFETY: MSG is plain data; all-zero is a valid value.
    let mut msg: MSG = unsafe { std::mem::zeroed() };
    // The caller's attachments still in the list, by index.
    let mut kept: Vec<usize> = (0..message.attachments.len()).collect();
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
        if msg.hwnd == form.attachments && msg.message == WM_KEYDOWN && key == VK_DELETE {
            remove_selected(form.attachments, &mut kept);
            continue;
        }
        if send {
            if let Some(result) = try_send(form, message, &kept, outgoing) {
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

/// Delete in the attachment list: the selected file leaves the message.
fn remove_selected(list: HWND, kept: &mut Vec<usize>) {
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

fn aborted() -> MapiError {
    MapiError::new(MapiCode::UserAbort, "the user closed the compose window")
}

/// Resolves and sends; `None` keeps the window open (a name to fix, no recipient).
fn try_send(
    form: &Form,
    message: &Message,
    kept: &[usize],
    outgoing: &dyn Outgoing,
) -> Option<Result<Delivery>> {
    let fields = form.fields.map(text_of);
    let [to, cc, bcc] = &fields;
    let finished = match finish(
        message,
        [to, cc, bcc],
        &text_of(form.subject),
        &text_of(form.body),
        kept,
        outgoing,
    ) {
        Ok(m) => m,
        Err((field, why)) => {
            tell(form.hwnd, &why);
            // SAFETY: a child of our window.
            unsafe { SetFocus(form.fields[field]) };
            return None;
        }
    };
    let result = outgoing.send(finished);
    if let Err(e) = &result {
        // The user is told why before the window closes (the caller gets the code).
        tell(
            form.hwnd,
            &format!("The message was not sent: {}", e.detail()),
        );
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
        WM_CLOSE => post(WM_APP_CANCEL),
        // SAFETY: the default handling of everything else, with the arguments received.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}
