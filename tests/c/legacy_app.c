/*
 * A "legacy app" with a Send-by-e-mail button, as thousands of Windows programs have:
 * it writes a temporary file, hands it to Simple MAPI, and deletes it right after.
 * Built against include/mapi.h by scripts/demo.sh.
 *
 * Usage: legacy_app [RECIPIENT]
 */
#include <mapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char path[1024];
    const char *tmp = getenv("TMPDIR");
    const char *recipient = argc > 1 ? argv[1] : "SMTP:customer@example.com";
    MapiRecipDesc to;
    MapiFileDesc file;
    MapiMessage message;
    LHANDLE session = 0;
    ULONG rc;
    FILE *f;

    /* The program's export: any bytes in a temp file. */
    sprintf(path, "%.900s/legacy-app-invoice.tmp", tmp && *tmp ? tmp : "/tmp");
    f = fopen(path, "wb");
    if (!f) return 1;
    fputs("%PDF-1.4\n% Invoice 2026-0042: 1 x Widget, 42.00 EUR\n%%EOF\n", f);
    fclose(f);

    memset(&to, 0, sizeof to);
    to.ulRecipClass = MAPI_TO;
    to.lpszAddress = (LPSTR)recipient;
    memset(&file, 0, sizeof file);
    file.nPosition = (ULONG)-1;
    file.lpszPathName = path;
    file.lpszFileName = (LPSTR) "Invoice 2026-0042.pdf";
    memset(&message, 0, sizeof message);
    message.lpszSubject = (LPSTR) "Your invoice 2026-0042";
    message.lpszNoteText = (LPSTR) "Dear customer,\nplease find your invoice attached.\n";
    message.nRecipCount = 1;
    message.lpRecips = &to;
    message.nFileCount = 1;
    message.lpFiles = &file;

    rc = MAPILogon(0, NULL, NULL, MAPI_LOGON_UI | MAPI_NEW_SESSION, 0, &session);
    if (rc == SUCCESS_SUCCESS) {
        rc = MAPISendMail(session, 0, &message, MAPI_LOGON_UI, 0);
        MAPILogoff(session, 0, 0, 0);
    }
    remove(path); /* real callers delete the file as soon as the call returns */
    printf("legacy_app: MAPISendMail returned %lu%s\n", (unsigned long)rc, rc == SUCCESS_SUCCESS ? " (SUCCESS_SUCCESS)" : "");
    return rc == SUCCESS_SUCCESS ? 0 : 1;
}
