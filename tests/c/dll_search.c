/* How a program that loads mapi32.dll at run time finds it (issue 11 item 14).
 *
 *   dll_search open|restrict
 *
 * "restrict" first calls SetDefaultDllDirectories(LOAD_LIBRARY_SEARCH_SYSTEM32 |
 * LOAD_LIBRARY_SEARCH_USER_DIRS), as 7-Zip 21 and later do, so that the program's own
 * folder is no longer searched. Then LoadLibrary("mapi32.dll") and one MAPISendMail.
 * Prints loaded=<path> (or loaded=none) and rc=<code>. */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <mapi.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dll_search open|restrict\n");
        return 2;
    }
    if (strcmp(argv[1], "restrict") == 0 && !SetDefaultDllDirectories(0x800 | 0x400)) {
        fprintf(stderr, "SetDefaultDllDirectories failed: %lu\n", GetLastError());
        return 2;
    }
    HMODULE mapi = LoadLibraryA("mapi32.dll");
    if (!mapi) {
        printf("loaded=none\n");
        return 0;
    }
    char path[MAX_PATH] = "";
    GetModuleFileNameA(mapi, path, sizeof path);
    printf("loaded=%s\n", path);
    LPMAPISENDMAIL send = (LPMAPISENDMAIL)(void (*)(void))GetProcAddress(mapi, "MAPISendMail");
    if (!send) {
        printf("rc=none\n");
        return 0;
    }
    MapiRecipDesc to = {0, MAPI_TO, NULL, "SMTP:to@example.org", 0, NULL};
    MapiMessage m = {0};
    m.lpszSubject = argv[1];
    m.lpszNoteText = "dll search";
    m.nRecipCount = 1;
    m.lpRecips = &to;
    printf("rc=%lu\n", (unsigned long)send(0, 0, &m, 0, 0));
    fflush(stdout);
    return 0;
}
