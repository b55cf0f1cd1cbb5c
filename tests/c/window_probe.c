/*
 * Reads the compose window of another process the way tools and screen readers do: finds
 * the window by its class (mapishim.compose), then prints one line per control, in Z order
 * (the Tab order):
 *
 *   control id=N class=C text=T sel=A,B name=N
 *
 * text is WM_GETTEXT (what the control shows now), sel is EM_GETSEL for edits, name is the
 * accessible name oleacc gives (AccessibleObjectFromWindow + IAccessible::get_accName), or
 * "name-error=0x…" when it gives none. First line: "window dpi=N width=W height=H", the
 * window's outer size. All text is UTF-8. Exits 1 when no window appears within 20 s.
 */
#define COBJMACROS
#include <windows.h>
#include <oleacc.h>
#include <stdio.h>

/* Spelled out: mingw-w64's -loleacc resolves IID_IAccessible to an import thunk, not the GUID. */
static const GUID iid_accessible = {0x618736e0, 0x3c3d, 0x11cf, {0x81, 0x0c, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}};

static void print_utf8(const WCHAR *text)
{
    char out[4096];
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, out, sizeof out, NULL, NULL);
    if (n <= 0) out[0] = 0;
    fputs(out, stdout);
}

static BOOL CALLBACK print_control(HWND control, LPARAM unused)
{
    WCHAR class_name[64], text[1024];
    DWORD_PTR got = 0;
    IAccessible *acc = NULL;
    HRESULT hr;
    (void)unused;
    GetClassNameW(control, class_name, 64);
    text[0] = 0;
    /* WM_GETTEXT, not GetWindowTextW: across processes that one returns the creation text. */
    SendMessageTimeoutW(control, WM_GETTEXT, 1024, (LPARAM)text, SMTO_ABORTIFHUNG, 5000, &got);
    printf("control id=%d class=", GetDlgCtrlID(control));
    print_utf8(class_name);
    fputs(" text=", stdout);
    print_utf8(text);
    if (lstrcmpiW(class_name, L"Edit") == 0) {
        DWORD start = 0, end = 0;
        SendMessageW(control, EM_GETSEL, (WPARAM)&start, (LPARAM)&end);
        printf(" sel=%lu,%lu", (unsigned long)start, (unsigned long)end);
    }
    hr = AccessibleObjectFromWindow(control, (DWORD)OBJID_CLIENT, &iid_accessible, (void **)&acc);
    if (SUCCEEDED(hr) && acc) {
        VARIANT self;
        BSTR name = NULL;
        VariantInit(&self);
        self.vt = VT_I4;
        self.lVal = CHILDID_SELF;
        hr = IAccessible_get_accName(acc, self, &name);
        if (hr == S_OK && name) {
            fputs(" name=", stdout);
            print_utf8(name);
        } else {
            printf(" name-error=0x%08lx", (unsigned long)hr);
        }
        SysFreeString(name);
        IAccessible_Release(acc);
    } else {
        printf(" name-error=0x%08lx", (unsigned long)hr);
    }
    fputs("\n", stdout);
    return TRUE;
}

int main(void)
{
    HWND form = NULL;
    RECT r;
    int i;
    /* The form's own DPI, not a virtualized one. */
    HMODULE user32 = GetModuleHandleW(L"user32.dll");
    typedef HANDLE(WINAPI * SetContext)(HANDLE);
    typedef UINT(WINAPI * DpiFor)(HWND);
    SetContext set = (SetContext)(void *)GetProcAddress(user32, "SetThreadDpiAwarenessContext");
    DpiFor dpi_for = (DpiFor)(void *)GetProcAddress(user32, "GetDpiForWindow");
    if (set) set((HANDLE)(INT_PTR)-4);
    CoInitialize(NULL);
    for (i = 0; i < 200 && !form; i++) {
        form = FindWindowW(L"mapishim.compose", NULL);
        if (!form) Sleep(100);
    }
    if (!form) {
        puts("no compose window");
        return 1;
    }
    GetWindowRect(form, &r);
    printf("window dpi=%u width=%ld height=%ld\n", dpi_for ? dpi_for(form) : 0, r.right - r.left,
           r.bottom - r.top);
    EnumChildWindows(form, print_control, 0);
    fflush(stdout);
    CoUninitialize();
    return 0;
}
