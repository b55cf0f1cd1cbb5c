/*
 * MAPIResolveName for each argument, as a caller's "Check names" button does; prints
 * `rc=N name=... address=...` per name for the test driver.
 */
#ifdef _WIN32
#include <windows.h>
#endif
#include <mapi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    LPMAPIRESOLVENAME resolve_name;
    LPMAPIFREEBUFFER free_buffer;
    int i;
#ifdef _WIN32
    HMODULE lib = LoadLibraryA("mapi32.dll");
    if (!lib) return 2;
    resolve_name = (LPMAPIRESOLVENAME)(void *)GetProcAddress(lib, "MAPIResolveName");
    free_buffer = (LPMAPIFREEBUFFER)(void *)GetProcAddress(lib, "MAPIFreeBuffer");
#else
    resolve_name = MAPIResolveName;
    free_buffer = MAPIFreeBuffer;
#endif
    if (!resolve_name || !free_buffer) return 2;
    for (i = 1; i < argc; i++) {
        lpMapiRecipDesc recip = NULL;
        ULONG rc = resolve_name(0, 0, argv[i], 0, 0, &recip);
        printf("rc=%lu", (unsigned long)rc);
        if (rc == SUCCESS_SUCCESS && recip) {
            printf(" name=%s address=%s", recip->lpszName ? recip->lpszName : "(null)",
                   recip->lpszAddress ? recip->lpszAddress : "(null)");
            free_buffer(recip);
        }
        printf("\n");
    }
    return 0;
}
