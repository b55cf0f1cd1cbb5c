/*
 * A program as a developer on Linux writes it against the installed package: <mapi.h> from
 * the include path pkg-config or CMake gives, MAPISendMail linked from -lmapi32.
 *
 *   installed_app SUBJECT     sends one message to bob@example.org; prints rc=N
 */
#include <mapi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    MapiRecipDesc to;
    MapiMessage msg;
    ULONG rc;
    if (argc != 2) {
        fprintf(stderr, "usage: installed_app SUBJECT\n");
        return 2;
    }
    memset(&to, 0, sizeof to);
    to.ulRecipClass = MAPI_TO;
    to.lpszName = "Bob";
    to.lpszAddress = "SMTP:bob@example.org";
    memset(&msg, 0, sizeof msg);
    msg.lpszSubject = argv[1];
    msg.lpszNoteText = "Sent by a program built against the installed package.\r\n";
    msg.nRecipCount = 1;
    msg.lpRecips = &to;
    rc = MAPISendMail(0, 0, &msg, 0, 0);
    printf("rc=%lu\n", (unsigned long)rc);
    return rc == SUCCESS_SUCCESS ? 0 : 1;
}
