/*
 * A program with a window of its own that sends with MAPI_DIALOG and passes that window as
 * ulUIParam, as "Send by e-mail" menus do. While the call runs, a timer on the owner (the
 * compose window's loop dispatches it) checks that the owner is disabled and owns the
 * compose window, then closes the form. After the call it checks the owner is enabled.
 * Prints "during disabled=D owned=O", "rc=N" and "after enabled=E".
 */
#include "harness.h"

static HWND owner;
static int checked;

static LRESULT CALLBACK owner_proc(HWND hwnd, UINT msg, WPARAM wparam, LPARAM lparam)
{
    if (msg == WM_TIMER && !checked) {
        HWND form = FindWindowW(L"mapishim.compose", NULL);
        if (form && IsWindowVisible(form)) {
            checked = 1;
            KillTimer(hwnd, 1);
            printf("during disabled=%d owned=%d\n", !IsWindowEnabled(owner), GetWindow(form, GW_OWNER) == owner);
            fflush(stdout);
            PostMessageW(form, WM_CLOSE, 0, 0);
        }
        return 0;
    }
    return DefWindowProcW(hwnd, msg, wparam, lparam);
}

int main(void)
{
    WNDCLASSW wc;
    MapiRecipDesc to;
    MapiMessage m;
    ULONG rc;
    (void)make_file; /* the harness's; this caller attaches nothing */
    memset(&wc, 0, sizeof wc);
    wc.lpfnWndProc = owner_proc;
    wc.hInstance = GetModuleHandleW(NULL);
    wc.lpszClassName = L"owner_caller";
    RegisterClassW(&wc);
    owner = CreateWindowW(L"owner_caller", L"Owner program", WS_OVERLAPPEDWINDOW | WS_VISIBLE, 10, 10,
                          300, 200, NULL, NULL, wc.hInstance, NULL);
    if (!owner || !load_api()) {
        puts("setup failed");
        return 2;
    }
    SetTimer(owner, 1, 200, NULL);
    init_recip(&to, MAPI_TO, NULL, "SMTP:to@example.org");
    init_message(&m, "Owned", "Text", 1, &to);
    rc = api.SendMail(0, (ULONG_PTR)owner, &m, MAPI_DIALOG, 0);
    printf("rc=%lu\n", (unsigned long)rc);
    printf("after enabled=%d\n", IsWindowEnabled(owner) != 0);
    DestroyWindow(owner);
    return 0;
}
