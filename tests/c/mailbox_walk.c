/*
 * Walks a Maildir through Simple MAPI the way help-desk and CRM programs do: MAPILogon,
 * MAPIFindNext to the end, MAPIReadMail of every message with every combination of the
 * read flags, then MAPISaveMail and MAPIDeleteMail, freeing every block it gets.
 *
 *   mailbox_walk list FLAGS            IDs in MAPIFindNext order ("id=…"), then "rc=…"
 *   mailbox_walk readall FLAGS...      every message read once per FLAGS value (dumps)
 *   mailbox_walk read ID FLAGS         one read (dump)
 *   mailbox_walk save SUBJECT BODY [ID]   MAPISaveMail (new, or replacing ID): "id=…"
 *   mailbox_walk delete ID             MAPIDeleteMail
 *   mailbox_walk edge                  argument checks that need no particular Maildir
 *
 * A dump is "read id=… flags=… rc=…", then one "key=value" line per field with every string
 * hex-encoded (so any byte survives), then "end". The Python side compares it with what the
 * generator wrote.
 */
#include "harness.h"

static LHANDLE session;

static void hex(const char *key, const char *s)
{
    if (!s) {
        printf("%s=NULL\n", key);
        return;
    }
    printf("%s=", key);
    for (; *s; s++) printf("%02x", (unsigned char)*s);
    printf("\n");
}

static void dump_recip(const char *key, lpMapiRecipDesc r)
{
    printf("%s=%lu|", key, (unsigned long)r->ulRecipClass);
    hex("name", r->lpszName);
    hex("address", r->lpszAddress);
    printf("eid=%lu\n", (unsigned long)r->ulEIDSize);
}

static ULONG read_one(const char *id, FLAGS flags)
{
    lpMapiMessage m = NULL;
    ULONG rc = api.ReadMail(session, 0, (LPSTR)id, flags, 0, &m), i;
    printf("read id=%s flags=%lu rc=%lu\n", id, (unsigned long)flags, (unsigned long)rc);
    if (rc == SUCCESS_SUCCESS && m) {
        hex("subject", m->lpszSubject);
        hex("note", m->lpszNoteText);
        hex("type", m->lpszMessageType);
        hex("date", m->lpszDateReceived);
        hex("conversation", m->lpszConversationID);
        printf("mflags=%lu\n", (unsigned long)m->flFlags);
        if (m->lpOriginator) dump_recip("originator", m->lpOriginator);
        for (i = 0; i < m->nRecipCount; i++) dump_recip("recipient", &m->lpRecips[i]);
        for (i = 0; i < m->nFileCount; i++) {
            hex("file_path", m->lpFiles[i].lpszPathName);
            hex("file_name", m->lpFiles[i].lpszFileName);
        }
        CHECK_RC(api.FreeBuffer(m), SUCCESS_SUCCESS);
    } else {
        CHECK(m == NULL);
    }
    printf("end\n");
    return rc;
}

/* Collects the IDs MAPIFindNext gives, in order. */
static int list_ids(FLAGS flags, char ids[][513], int max, ULONG *final_rc)
{
    char seed[513] = "", next[513];
    int n = 0;
    for (;;) {
        ULONG rc = api.FindNext(session, 0, NULL, n ? seed : NULL, flags, 0, next);
        if (rc != SUCCESS_SUCCESS) {
            *final_rc = rc;
            return n;
        }
        if (n == max) {
            *final_rc = 0;
            return n;
        }
        strcpy(ids[n++], next);
        strcpy(seed, next);
    }
}

static char ids[4096][513];

static void edge(void)
{
    char id[513], small[64];
    lpMapiMessage m = (lpMapiMessage)0x1;
    ULONG rc;
    /* Session 0 is refused, as documented. */
    CHECK_RC(api.FindNext(0, 0, NULL, NULL, 0, 0, id), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.ReadMail(0, 0, "i-x", 0, 0, &m), MAPI_E_INVALID_SESSION);
    /* Other message types have no messages; "IPM.Note" is ordinary mail. */
    CHECK_RC(api.FindNext(session, 0, "IPM.Schedule.Meeting.Request", NULL, 0, 0, id), MAPI_E_NO_MESSAGES);
    CHECK_RC(api.FindNext(session, 0, "", NULL, 0, 0, id), SUCCESS_SUCCESS);
    CHECK_RC(api.FindNext(session, 0, "IPM.Note", NULL, 0, 0, small), SUCCESS_SUCCESS);
    CHECK(strlen(small) < 64);
    /* Unknown or malformed IDs. */
    CHECK_RC(api.ReadMail(session, 0, "i-does-not-exist", 0, 0, &m), MAPI_E_INVALID_MESSAGE);
    CHECK_RC(api.ReadMail(session, 0, "../../etc/passwd", 0, 0, &m), MAPI_E_INVALID_MESSAGE);
    CHECK_RC(api.ReadMail(session, 0, "\xff\xfe", 0, 0, &m), MAPI_E_INVALID_MESSAGE);
    CHECK_RC(api.ReadMail(session, 0, id, 0, 0, NULL), MAPI_E_FAILURE);
    CHECK(m == (lpMapiMessage)0x1);
    CHECK_RC(api.DeleteMail(session, 0, "i-does-not-exist", 0, 0), MAPI_E_INVALID_MESSAGE);
    CHECK_RC(api.FindNext(session, 0, NULL, "../x", 0, 0, id), MAPI_E_INVALID_MESSAGE);
    rc = api.FindNext(session, 0, NULL, NULL, MAPI_LONG_MSGID, 0, id);
    CHECK_RC(rc, SUCCESS_SUCCESS);
}

int main(int argc, char **argv)
{
    ULONG rc = 0;
    int i, n, a;
    if (argc < 2) {
        fprintf(stderr, "usage: %s list|readall|read|save|delete|edge ...\n", argv[0]);
        return 2;
    }
    if (!load_api()) {
        fprintf(stderr, "Simple MAPI entry points missing\n");
        return 4;
    }
    CHECK_RC(api.Logon(0, NULL, NULL, MAPI_NEW_SESSION, 0, &session), SUCCESS_SUCCESS);
    if (strcmp(argv[1], "list") == 0 && argc == 3) {
        n = list_ids((FLAGS)strtoul(argv[2], NULL, 0), ids, 4096, &rc);
        for (i = 0; i < n; i++) printf("id=%s\n", ids[i]);
        printf("rc=%lu\n", (unsigned long)rc);
    } else if (strcmp(argv[1], "readall") == 0) {
        /* The IDs first (with PEEK reads nothing changes), then each flag set in turn. */
        n = list_ids(0, ids, 4096, &rc);
        CHECK_RC(rc, MAPI_E_NO_MESSAGES);
        for (a = 2; a < argc; a++)
            for (i = 0; i < n; i++) read_one(ids[i], (FLAGS)strtoul(argv[a], NULL, 0));
    } else if (strcmp(argv[1], "read") == 0 && argc == 4) {
        read_one(argv[2], (FLAGS)strtoul(argv[3], NULL, 0));
    } else if (strcmp(argv[1], "save") == 0 && (argc == 4 || argc == 5)) {
        MapiRecipDesc r;
        MapiMessage m;
        char id[513];
        char *path = make_file("draft-attachment.txt", "draft data", 10);
        MapiFileDesc f;
        init_recip(&r, MAPI_TO, "Draft Reader", "SMTP:reader@example.org");
        init_message(&m, argv[2], argv[3], 1, &r);
        memset(&f, 0, sizeof f);
        f.nPosition = (ULONG)-1;
        f.lpszPathName = path;
        f.lpszFileName = "notes.txt";
        m.nFileCount = 1;
        m.lpFiles = &f;
        strcpy(id, argc == 5 ? argv[4] : "");
        rc = api.SaveMail(session, 0, &m, 0, 0, id);
        remove_file(path);
        if (rc == SUCCESS_SUCCESS) printf("id=%s\n", id);
        printf("rc=%lu\n", (unsigned long)rc);
    } else if (strcmp(argv[1], "delete") == 0 && argc == 3) {
        printf("rc=%lu\n", (unsigned long)api.DeleteMail(session, 0, argv[2], 0, 0));
    } else if (strcmp(argv[1], "edge") == 0) {
        edge();
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    CHECK_RC(api.Logoff(session, 0, 0, 0), SUCCESS_SUCCESS);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
