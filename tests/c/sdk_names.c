/*
 * Uses the SDK's Simple MAPI names the way Windows code does; compiled as C89, C11 and
 * C++17 (gcc and clang, -Wall -Wextra -Werror) against include/mapi.h, then run: it sends
 * one message through the linked library.
 */
#include <mapi.h>
#include <stdio.h>
#include <string.h>

static ULONG send_through(LPMAPISENDMAIL send, LHANDLE session, lpMapiMessage message)
{
    return send(session, 0, message, MAPI_LOGON_UI, 0);
}

int main(void)
{
    MapiRecipDesc recip;
    MapiFileDesc file;
    MapiFileTagExt tag;
    MapiMessage message;
    MapiMessageW wide_message;
    MapiRecipDescW wide_recip;
    MapiFileDescW wide_file;
    lpMapiFileDesc files = &file;
    lpMapiRecipDesc recips = &recip;
    lpMapiFileTagExt tags = &tag;
    lpMapiMessageW wide = &wide_message;
    lpMapiRecipDescW wrecips = &wide_recip;
    lpMapiFileDescW wfiles = &wide_file;
    LHANDLE session = lhSessionNull;
    LPLHANDLE session_out = &session;
    FLAGS flags = MAPI_DIALOG | MAPI_DIALOG_MODELESS | MAPI_NEW_SESSION | MAPI_PASSWORD_UI |
                  MAPI_FORCE_DOWNLOAD | MAPI_EXTENDED | MAPI_UNREAD_ONLY | MAPI_ENVELOPE_ONLY |
                  MAPI_USE_DEFAULT | MAPI_PEEK | MAPI_GUARANTEE_FIFO | MAPI_BODY_AS_FILE |
                  MAPI_AB_NOMODIFY | MAPI_SUPPRESS_ATTACH | MAPI_LONG_MSGID | MAPI_FORCE_UNICODE;
    ULONG codes[] = {SUCCESS_SUCCESS, MAPI_USER_ABORT, MAPI_E_USER_ABORT, MAPI_E_FAILURE,
                     MAPI_E_LOGON_FAILURE, MAPI_E_LOGIN_FAILURE, MAPI_E_DISK_FULL,
                     MAPI_E_INSUFFICIENT_MEMORY, MAPI_E_ACCESS_DENIED, MAPI_E_TOO_MANY_SESSIONS,
                     MAPI_E_TOO_MANY_FILES, MAPI_E_TOO_MANY_RECIPIENTS, MAPI_E_ATTACHMENT_NOT_FOUND,
                     MAPI_E_ATTACHMENT_OPEN_FAILURE, MAPI_E_ATTACHMENT_WRITE_FAILURE,
                     MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_BAD_RECIPTYPE, MAPI_E_NO_MESSAGES,
                     MAPI_E_INVALID_MESSAGE, MAPI_E_TEXT_TOO_LARGE, MAPI_E_INVALID_SESSION,
                     MAPI_E_TYPE_NOT_SUPPORTED, MAPI_E_AMBIGUOUS_RECIPIENT, MAPI_E_AMBIG_RECIP,
                     MAPI_E_MESSAGE_IN_USE, MAPI_E_NETWORK_FAILURE, MAPI_E_INVALID_EDITFIELDS,
                     MAPI_E_INVALID_RECIPS, MAPI_E_NOT_SUPPORTED, MAPI_E_UNICODE_NOT_SUPPORTED,
                     MAPI_E_ATTACHMENT_TOO_LARGE};
    LPMAPILOGON logon = MAPILogon;
    LPMAPILOGOFF logoff = MAPILogoff;
    LPMAPISENDMAIL send = MAPISendMail;
    LPMAPISENDMAILW send_w = MAPISendMailW;
    LPMAPISENDDOCUMENTS send_documents = MAPISendDocuments;
    LPMAPIFINDNEXT find_next = MAPIFindNext;
    LPMAPIREADMAIL read_mail = MAPIReadMail;
    LPMAPISAVEMAIL save_mail = MAPISaveMail;
    LPMAPIDELETEMAIL delete_mail = MAPIDeleteMail;
    LPMAPIFREEBUFFER free_buffer = MAPIFreeBuffer;
    LPMAPIADDRESS address = MAPIAddress;
    LPMAPIDETAILS details = MAPIDetails;
    LPMAPIRESOLVENAME resolve = MAPIResolveName;
    ULONG rc;

    (void)files; (void)tags; (void)wide; (void)wrecips; (void)wfiles; (void)flags;
    (void)send_w; (void)send_documents; (void)find_next; (void)read_mail; (void)save_mail;
    (void)delete_mail; (void)free_buffer; (void)address; (void)details; (void)resolve;
    if (sizeof codes / sizeof codes[0] != 31 || MAPI_ORIG != 0 || MAPI_BCC != 3 || MAPI_OLE != 1 ||
        MAPI_OLE_STATIC != 2 || MAPI_UNREAD != 1 || MAPI_RECEIPT_REQUESTED != 2 || MAPI_SENT != 4 ||
        MAPI_DIALOG_MODELESS != 0xC || sizeof(ULONG) != 4 || sizeof(LHANDLE) != sizeof(void *)) {
        fprintf(stderr, "SDK constants or type sizes differ\n");
        return 1;
    }
    memset(&recip, 0, sizeof recip);
    memset(&message, 0, sizeof message);
    recip.ulRecipClass = MAPI_TO;
    recip.lpszAddress = (LPSTR) "SMTP:sdk@example.org";
    message.lpszSubject = (LPSTR) "sdk names";
    message.lpszNoteText = (LPSTR) "compiled against include/mapi.h";
    message.nRecipCount = 1;
    message.lpRecips = recips;
    rc = logon(0, NULL, NULL, MAPI_NEW_SESSION, 0, session_out);
    if (rc != SUCCESS_SUCCESS) {
        fprintf(stderr, "MAPILogon: %lu\n", (unsigned long)rc);
        return 1;
    }
    rc = send_through(send, session, &message);
    if (rc != SUCCESS_SUCCESS) {
        fprintf(stderr, "MAPISendMail: %lu\n", (unsigned long)rc);
        return 1;
    }
    rc = logoff(session, 0, 0, 0);
    return rc == SUCCESS_SUCCESS ? 0 : 1;
}
