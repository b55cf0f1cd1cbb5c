/*
 * The C test suite: one program, one case per run (`mapi_suite CASE`), so that each case
 * gets its own configuration and outbox from the driver (tests/test_c_suite.py), which then
 * checks every written message with Python's email package.
 *
 * The program checks return codes and out-parameters itself; it exits non-zero on failure.
 */
#include "harness.h"

#define TO_ADDR "SMTP:to@example.org"

/* ---- caller behaviours ---------------------------------------------------------------- */

/* Every recipient shape real callers use, in one message. */
static void case_recipient_shapes(void)
{
    MapiRecipDesc r[7];
    MapiMessage m;
    init_recip(&r[0], MAPI_TO, NULL, "SMTP:a@example.org");
    init_recip(&r[1], MAPI_TO, "Bee", "smtp:b@example.org");
    init_recip(&r[2], MAPI_TO, NULL, "c@example.org");
    init_recip(&r[3], MAPI_CC, "d@example.org", NULL);
    init_recip(&r[4], MAPI_CC, "SMTP:e@example.org", "SMTP:e@example.org");
    init_recip(&r[5], MAPI_BCC, "f@example.org;g@example.org", NULL);
    init_recip(&r[6], MAPI_BCC, "Alice", NULL); /* resolved through the address book */
    init_message(&m, "shapes", "body", 7, r);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
}

/* NULL and empty strings, and non-NULL arrays with a count of 0. */
static void case_null_and_empty(void)
{
    MapiRecipDesc r;
    MapiFileDesc unused_file;
    MapiMessage m;
    memset(&unused_file, 0xAB, sizeof unused_file); /* must not be read */
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, NULL, NULL, 1, &r);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    init_message(&m, "", "", 1, &r);
    m.lpszMessageType = "";
    m.lpFiles = &unused_file;
    m.nFileCount = 0;
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
}

static void case_line_endings(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "line ends", "lf\ncrlf\r\ncr\rend", 1, &r);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
}

/* File names: NULL, empty, and a display name unlike the temp file's; nPosition never
 * splices; the caller deletes its files as soon as the call returns. */
static void case_attachments(void)
{
    MapiRecipDesc r;
    MapiFileDesc f[3];
    MapiMessage m;
    char *p0 = make_file("tmp0001.tmp", "alpha\n", 6);
    char *p1 = make_file("beta.txt", "beta\r\nline2", 11);
    char *p2 = make_file("tmp0003.tmp", "%PDF-1.4\0binary\xff", 16);
    memset(f, 0, sizeof f);
    f[0].lpszPathName = p0; f[0].lpszFileName = NULL;   f[0].nPosition = 0;
    f[1].lpszPathName = p1; f[1].lpszFileName = "";     f[1].nPosition = 3;
    f[2].lpszPathName = p2; f[2].lpszFileName = "C:\\Reports\\Q3 report.pdf"; f[2].nPosition = 0xFFFFFFFF;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "attachments", "see files", 1, &r);
    m.nFileCount = 3;
    m.lpFiles = f;
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    remove_file(p0); remove_file(p1); remove_file(p2);
}

/* ulReserved == CP_UTF8: UTF-8 strings, including a non-ASCII attachment path. */
static void case_utf8(void)
{
    MapiRecipDesc r;
    MapiFileDesc f;
    MapiMessage m;
    char *path = make_file("Pr\xc3\xbc" "fbericht \xe2\x82\xac.txt", "utf8 path", 9);
    init_recip(&r, MAPI_TO, "J\xc3\xbcrgen M\xc3\xbcller", "SMTP:jm@example.org");
    init_message(&m, "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac", "K\xc3\xa4se\n", 1, &r);
    m.ulReserved = 65001;
    memset(&f, 0, sizeof f);
    f.lpszPathName = path;
    f.nPosition = (ULONG)-1;
    m.nFileCount = 1;
    m.lpFiles = &f;
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    remove_file(path);
}

/* ANSI strings in the configured code page (the driver sets windows-1252). */
static void case_ansi_cp1252(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, "Ren\xe9 \x80", "SMTP:rene@example.org");
    init_message(&m, "caf\xe9 \x80 \xfc", "\xfc" "ber", 1, &r);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
}

static WCHAR *widen(const char *ascii, WCHAR *buf)
{
    size_t i;
    for (i = 0; ascii[i]; i++) buf[i] = (WCHAR)(unsigned char)ascii[i];
    buf[i] = 0;
    return buf;
}

/* MAPISendMailW: UTF-16 with a non-BMP character, and a lone surrogate (replaced). */
static void case_wide(void)
{
    static WCHAR subject[] = {'W', 0x00E9, ' ', 0xD83D, 0xDE00, ' ', 0x20AC, 0};
    static WCHAR lone[] = {'b', 'a', 'd', ' ', 0xD800, '!', 0};
    static WCHAR name[] = {'Z', 'o', 0x00EB, 0};
    WCHAR address[64], body[64], wpath[1024], wname[64];
    MapiRecipDescW r;
    MapiFileDescW f;
    MapiMessageW m;
    char *path = make_file("wide.txt", "wide attachment", 15);
    size_t i;
    for (i = 0; path[i]; i++) wpath[i] = (WCHAR)(unsigned char)path[i];
    wpath[i] = 0;
    memset(&r, 0, sizeof r);
    r.ulRecipClass = MAPI_TO;
    r.lpszName = name;
    r.lpszAddress = widen("SMTP:zoe@example.org", address);
    memset(&f, 0, sizeof f);
    f.lpszPathName = wpath;
    f.lpszFileName = widen("shown-wide.txt", wname);
    f.nPosition = (ULONG)-1;
    memset(&m, 0, sizeof m);
    m.lpszSubject = subject;
    m.lpszNoteText = widen("wide body", body);
    m.nRecipCount = 1;
    m.lpRecips = &r;
    m.nFileCount = 1;
    m.lpFiles = &f;
    CHECK_RC(api.SendMailW(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    m.lpszSubject = lone;
    m.nFileCount = 0;
    CHECK_RC(api.SendMailW(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    remove_file(path);
}

static void case_bad_utf8(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "bad \xc3\x28 \xff utf8", "\xe2\x82", 1, &r);
    m.ulReserved = 65001;
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS, MAPI_E_INVALID_MESSAGE);
}

/* Originators: NULL, all-empty and bare "SMTP:" use the configured from; a real one wins. */
static void case_originators(void)
{
    MapiRecipDesc r, o;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "orig-null", "x", 1, &r);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    init_recip(&o, MAPI_ORIG, "", "");
    m.lpOriginator = &o;
    m.lpszSubject = "orig-empty";
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    init_recip(&o, MAPI_ORIG, NULL, "SMTP:");
    m.lpszSubject = "orig-smtp";
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    init_recip(&o, MAPI_ORIG, "Real Sender", "SMTP:real@example.org");
    m.lpszSubject = "orig-real";
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
}

static void case_receipt(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "receipt", "x", 1, &r);
    m.flFlags = MAPI_RECEIPT_REQUESTED;
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
}

/* Flags real callers pass, unknown bits, and dialog requests without recipients. */
static void case_flags(void)
{
    static const FLAGS flags[] = {0, MAPI_DIALOG, MAPI_DIALOG | MAPI_LOGON_UI,
                                  MAPI_DIALOG_MODELESS | MAPI_LOGON_UI, MAPI_NEW_SESSION,
                                  0x4, 0xF0000000UL | MAPI_LOGON_UI};
    MapiRecipDesc r;
    MapiMessage m;
    size_t i;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "flags", "x", 1, &r);
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CHECK_RC(api.SendMail(0, 0, &m, flags[i], 0), SUCCESS_SUCCESS);
    init_message(&m, "dialog, no recipients", "x", 0, NULL);
    CHECK_RC(api.SendMail(0, 0, &m, MAPI_DIALOG, 0), SUCCESS_SUCCESS);
    CHECK_RC(api.SendMail(0, 0, &m, MAPI_DIALOG_MODELESS, 0), SUCCESS_SUCCESS);
}

static void case_sessions(void)
{
    LHANDLE session = 0, second = 0;
    MapiRecipDesc r;
    lpMapiRecipDesc resolved = (lpMapiRecipDesc)0x1;
    MapiMessage m;
    ULONG count = 7;
    char id[513];
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "session", "x", 1, &r);
    CHECK_RC(api.Logon(0, "profile", "password", MAPI_NEW_SESSION | MAPI_LOGON_UI, 0, &session), SUCCESS_SUCCESS);
    CHECK(session != 0);
    CHECK_RC(api.Logon(0, NULL, NULL, 0, 0, &second), SUCCESS_SUCCESS);
    CHECK(second != 0 && second != session);
    CHECK_RC(api.SendMail(session, 0, &m, 0, 0), SUCCESS_SUCCESS);
    CHECK_RC(api.Logoff(session, 0, 0, 0), SUCCESS_SUCCESS);
    /* A logged-off handle and a never-issued one are refused by every function taking one. */
    CHECK_RC(api.SendMail(session, 0, &m, 0, 0), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.Logoff(session, 0, 0, 0), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.SendMail(12345, 0, &m, 0, 0), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.ResolveName(12345, 0, "Alice", 0, 0, &resolved), MAPI_E_INVALID_SESSION);
    CHECK(resolved == (lpMapiRecipDesc)0x1);
    CHECK_RC(api.FindNext(12345, 0, NULL, NULL, 0, 0, id), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.ReadMail(12345, 0, "id", 0, 0, NULL), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.SaveMail(12345, 0, &m, 0, 0, id), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.DeleteMail(12345, 0, "id", 0, 0), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.Address(12345, 0, NULL, 0, NULL, 0, NULL, 0, 0, &count, &resolved), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.Details(12345, 0, &r, 0, 0), MAPI_E_INVALID_SESSION);
    {
        MapiMessageW mw;
        memset(&mw, 0, sizeof mw);
        CHECK_RC(api.SendMailW(12345, 0, &mw, 0, 0), MAPI_E_INVALID_SESSION);
    }
    CHECK_RC(api.Logoff(12345, 0, 0, 0), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.Logon(0, NULL, NULL, 0, 0, NULL), MAPI_E_FAILURE);
    CHECK_RC(api.SendMail(second, 0, &m, 0, 0), SUCCESS_SUCCESS);
    CHECK_RC(api.Logoff(second, 0, 0, 0), SUCCESS_SUCCESS);
    CHECK(count == 7);
}

/* MAPIResolveName against the vCard book, and sending with what it returned. */
static void case_resolve(void)
{
    lpMapiRecipDesc recip = NULL;
    lpMapiRecipDesc untouched = (lpMapiRecipDesc)0x1234;
    MapiMessage m;
    CHECK_RC(api.ResolveName(0, 0, "alice martin", 0, 0, &recip), SUCCESS_SUCCESS);
    if (recip) {
        CHECK(recip->ulRecipClass == MAPI_TO);
        CHECK(strcmp(recip->lpszName, "Alice Martin") == 0);
        CHECK(strcmp(recip->lpszAddress, "SMTP:alice@example.org") == 0);
        CHECK(recip->ulEIDSize > 0 && recip->lpEntryID != NULL);
        /* Send with the entry ID only: it must carry the mailbox. */
        recip->lpszName = NULL;
        recip->lpszAddress = NULL;
        init_message(&m, "resolved", "x", 1, recip);
        CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
        CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
    }
    CHECK_RC(api.ResolveName(0, 0, "Martin", 0, 0, &untouched), MAPI_E_AMBIGUOUS_RECIPIENT);
    CHECK_RC(api.ResolveName(0, 0, "Martin", MAPI_DIALOG, 0, &untouched), MAPI_E_AMBIGUOUS_RECIPIENT);
    CHECK_RC(api.ResolveName(0, 0, "Nobody Known", 0, 0, &untouched), MAPI_E_UNKNOWN_RECIPIENT);
    CHECK_RC(api.ResolveName(0, 0, "", 0, 0, &untouched), MAPI_E_UNKNOWN_RECIPIENT);
    CHECK_RC(api.ResolveName(0, 0, NULL, 0, 0, &untouched), MAPI_E_UNKNOWN_RECIPIENT);
    CHECK(untouched == (lpMapiRecipDesc)0x1234);
    CHECK_RC(api.ResolveName(0, 0, "Alice", 0, 0, NULL), MAPI_E_FAILURE);
    CHECK_RC(api.ResolveName(0, 0, "SMTP:stranger@elsewhere.example", 0, 0, &recip), SUCCESS_SUCCESS);
    if (recip) {
        CHECK(strcmp(recip->lpszAddress, "SMTP:stranger@elsewhere.example") == 0);
        CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
    }
    recip = NULL;
    CHECK_RC(api.ResolveName(0, 0, "Bob Two <bob2@example.org>", 0, 0, &recip), SUCCESS_SUCCESS);
    if (recip) {
        CHECK(strcmp(recip->lpszName, "Bob Two") == 0);
        CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
    }
}

static void case_free_buffer(void)
{
    lpMapiRecipDesc recip = NULL;
    int on_stack = 42;
    void *heap = malloc(64);
    CHECK_RC(api.FreeBuffer(NULL), SUCCESS_SUCCESS);
    CHECK_RC(api.FreeBuffer(&on_stack), MAPI_E_FAILURE);
    CHECK_RC(api.FreeBuffer(heap), MAPI_E_FAILURE);
    CHECK_RC(api.FreeBuffer((void *)0x10), MAPI_E_FAILURE);
    CHECK_RC(api.ResolveName(0, 0, "SMTP:x@example.org", 0, 0, &recip), SUCCESS_SUCCESS);
    CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
    CHECK_RC(api.FreeBuffer(recip), MAPI_E_FAILURE);
    CHECK_RC(api.FreeBuffer((char *)recip + 8), MAPI_E_FAILURE);
    free(heap);
}

/* Without [mailbox] the reading functions validate, then report an empty mailbox or "not
 * supported"; MAPIAddress resolves given recipients without a dialog; MAPIDetails is a
 * dialog only. */
static void case_no_mailbox(void)
{
    LHANDLE session = 0;
    MapiRecipDesc r, named;
    MapiMessage m;
    lpMapiMessage read = (lpMapiMessage)0x1;
    lpMapiRecipDesc recips = (lpMapiRecipDesc)0x1;
    ULONG count = 9;
    char id[513];
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "s", "x", 1, &r);
    strcpy(id, "untouched");
    CHECK_RC(api.FindNext(0, 0, NULL, NULL, 0, 0, id), MAPI_E_INVALID_SESSION);
    CHECK_RC(api.Logon(0, NULL, NULL, 0, 0, &session), SUCCESS_SUCCESS);
    CHECK_RC(api.FindNext(session, 0, NULL, NULL, 0, 0, id), MAPI_E_NO_MESSAGES);
    CHECK_RC(api.FindNext(session, 0, NULL, NULL, 0, 0, NULL), MAPI_E_FAILURE);
    CHECK_RC(api.ReadMail(session, 0, "id", 0, 0, &read), MAPI_E_NOT_SUPPORTED);
    CHECK_RC(api.ReadMail(session, 0, NULL, 0, 0, &read), MAPI_E_INVALID_MESSAGE);
    CHECK_RC(api.SaveMail(session, 0, &m, 0, 0, id), MAPI_E_NOT_SUPPORTED);
    CHECK_RC(api.SaveMail(session, 0, NULL, 0, 0, id), MAPI_E_INVALID_MESSAGE);
    CHECK_RC(api.DeleteMail(session, 0, "id", 0, 0), MAPI_E_NOT_SUPPORTED);
    CHECK(strcmp(id, "untouched") == 0);
    CHECK_RC(api.Address(session, 0, "cap", 1, NULL, 0, NULL, 0, 0, &count, &recips), MAPI_E_NOT_SUPPORTED);
    CHECK_RC(api.Address(session, 0, "cap", 9, NULL, 0, NULL, 0, 0, &count, &recips), MAPI_E_INVALID_EDITFIELDS);
    CHECK_RC(api.Address(session, 0, "cap", 1, NULL, 2, NULL, 0, 0, &count, &recips), MAPI_E_INVALID_RECIPS);
    CHECK_RC(api.Address(session, 0, "cap", 0, NULL, 1, &r, 0, 0, &count, &recips), MAPI_E_NOT_SUPPORTED);
    CHECK_RC(api.Details(session, 0, &r, 0, 0), MAPI_E_NOT_SUPPORTED);
    CHECK_RC(api.Details(session, 0, NULL, 0, 0), MAPI_E_INVALID_RECIPS);
    CHECK(read == (lpMapiMessage)0x1 && recips == (lpMapiRecipDesc)0x1 && count == 9);
    /* Given recipients come back resolved, in one block. */
    init_recip(&named, MAPI_CC, "Alice", NULL);
    CHECK_RC(api.Address(session, 0, "cap", 2, NULL, 1, &named, 0, 0, &count, &recips), SUCCESS_SUCCESS);
    CHECK(count == 1);
    if (count == 1 && recips && recips != (lpMapiRecipDesc)0x1) {
        CHECK(recips[0].ulRecipClass == MAPI_CC);
        CHECK(strcmp(recips[0].lpszAddress, "SMTP:alice@example.org") == 0);
        CHECK(strcmp(recips[0].lpszName, "Alice Martin") == 0);
        CHECK_RC(api.FreeBuffer(recips), SUCCESS_SUCCESS);
    }
    init_recip(&named, MAPI_TO, "Nobody Known", NULL);
    recips = (lpMapiRecipDesc)0x1;
    CHECK_RC(api.Address(session, 0, "cap", 1, NULL, 1, &named, 0, 0, &count, &recips), MAPI_E_UNKNOWN_RECIPIENT);
    CHECK(recips == (lpMapiRecipDesc)0x1);
    CHECK_RC(api.Logoff(session, 0, 0, 0), SUCCESS_SUCCESS);
}

/* Only a session: for tests of what MAPILogon does by itself. */
static void case_logon_only(void)
{
    LHANDLE session = 0;
    CHECK_RC(api.Logon(0, NULL, NULL, MAPI_NEW_SESSION, 0, &session), SUCCESS_SUCCESS);
    CHECK_RC(api.Logoff(session, 0, 0, 0), SUCCESS_SUCCESS);
}

static void case_send_documents(void)
{
    char paths[2200];
    char *a = make_file("doc-a.txt", "document a", 10);
    char *b = make_file("doc-b.bin", "document b", 10);
    sprintf(paths, "%s;%s", a, b);
    CHECK_RC(api.SendDocuments(0, ";", paths, "First.txt;Second.bin", 0), SUCCESS_SUCCESS);
    remove_file(a); remove_file(b);
}

static void case_working_directory(void)
{
    char before[1024], after[1024];
    MapiRecipDesc r;
    MapiFileDesc f;
    MapiMessage m;
    char *path = make_file("cwd.txt", "cwd", 3);
    CHECK(getcwd(before, sizeof before) != NULL);
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "cwd", "x", 1, &r);
    memset(&f, 0, sizeof f);
    f.lpszPathName = path;
    m.nFileCount = 1;
    m.lpFiles = &f;
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    CHECK(getcwd(after, sizeof after) != NULL);
    CHECK(strcmp(before, after) == 0);
}

/* 8 threads x 50 sends; even threads use their own session, odd ones session 0. */
#define THREADS 8
#define SENDS_PER_THREAD 50

static int thread_errors[THREADS];

static void run_sender(int index)
{
    LHANDLE session = 0;
    MapiRecipDesc r;
    MapiMessage m;
    char subject[64];
    int i;
    if (index % 2 == 0 && api.Logon(0, NULL, NULL, MAPI_NEW_SESSION, 0, &session) != SUCCESS_SUCCESS)
        thread_errors[index]++;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    for (i = 0; i < SENDS_PER_THREAD; i++) {
        sprintf(subject, "thread %d message %d", index, i);
        init_message(&m, subject, "concurrent", 1, &r);
        if (api.SendMail(session, 0, &m, 0, 0) != SUCCESS_SUCCESS) thread_errors[index]++;
    }
    if (session && api.Logoff(session, 0, 0, 0) != SUCCESS_SUCCESS) thread_errors[index]++;
}

#ifdef _WIN32
static DWORD WINAPI sender_thread(LPVOID arg)
{
    run_sender((int)(INT_PTR)arg);
    return 0;
}
#else
static void *sender_thread(void *arg)
{
    run_sender((int)(intptr_t)arg);
    return NULL;
}
#endif

static void case_threads(void)
{
    int i;
#ifdef _WIN32
    HANDLE threads[THREADS];
    for (i = 0; i < THREADS; i++)
        threads[i] = CreateThread(NULL, 0, sender_thread, (LPVOID)(INT_PTR)i, 0, NULL);
    WaitForMultipleObjects(THREADS, threads, TRUE, INFINITE);
    for (i = 0; i < THREADS; i++) CloseHandle(threads[i]);
#else
    pthread_t threads[THREADS];
    for (i = 0; i < THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, sender_thread, (void *)(intptr_t)i) == 0);
    for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
#endif
    for (i = 0; i < THREADS; i++) CHECK(thread_errors[i] == 0);
}

/* ---- hostile input: precise codes, no crash, nothing left in the outbox ----------------- */

static void case_null_message(void)
{
    CHECK_RC_IN(api.SendMail(0, 0, NULL, 0, 0), MAPI_E_FAILURE, MAPI_E_INVALID_MESSAGE);
    CHECK_RC_IN(api.SendMailW(0, 0, NULL, 0, 0), MAPI_E_FAILURE, MAPI_E_INVALID_MESSAGE);
}

static void case_count_with_null_array(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_message(&m, "s", "x", 3, NULL);
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_INVALID_RECIPS, MAPI_E_INVALID_MESSAGE);
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "s", "x", 1, &r);
    m.nFileCount = 2;
    m.lpFiles = NULL;
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_INVALID_MESSAGE, MAPI_E_FAILURE);
}

static void send_one_file(const char *path, ULONG expected_a, ULONG expected_b)
{
    MapiRecipDesc r;
    MapiFileDesc f;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "file", "x", 1, &r);
    memset(&f, 0, sizeof f);
    f.lpszPathName = (char *)path;
    m.nFileCount = 1;
    m.lpFiles = &f;
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), expected_a, expected_b);
}

static void case_bad_attachments(void)
{
    char missing[1100];
    sprintf(missing, "%s/does-not-exist.pdf", scratch_dir());
    send_one_file(missing, MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_NOT_FOUND);
    send_one_file(scratch_dir(), MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_OPEN_FAILURE);
    send_one_file(NULL, MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_NOT_FOUND);
    send_one_file("", MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_NOT_FOUND);
#ifndef _WIN32
    send_one_file("/dev/zero", MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_OPEN_FAILURE);
    send_one_file(getenv("MAPISHIM_TEST_FIFO"), MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_OPEN_FAILURE);
#else
    send_one_file("NUL", MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_OPEN_FAILURE);
    send_one_file("\\\\.\\NUL", MAPI_E_ATTACHMENT_NOT_FOUND, MAPI_E_ATTACHMENT_OPEN_FAILURE);
#endif
}

static void case_bad_recipients(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, NULL);
    init_message(&m, "s", "x", 1, &r);
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_INVALID_RECIPS);
    init_recip(&r, MAPI_TO, "", "");
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_INVALID_RECIPS);
    init_recip(&r, 9, NULL, TO_ADDR);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), MAPI_E_BAD_RECIPTYPE);
    init_recip(&r, MAPI_TO, NULL, "SMTP:bob@example.org\r\nBcc: evil@attacker.example");
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_INVALID_RECIPS);
    init_recip(&r, MAPI_TO, "bob@example.org\nBcc: evil@attacker.example", NULL);
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_INVALID_RECIPS);
    init_recip(&r, MAPI_TO, NULL, "FAX:+4930123456");
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_INVALID_RECIPS);
    init_message(&m, "no recipients", "x", 0, NULL);
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), MAPI_E_UNKNOWN_RECIPIENT, MAPI_E_INVALID_RECIPS);
}

/* CR/LF in subject, display name and file name: sent, but no header appears. */
static void case_header_injection(void)
{
    MapiRecipDesc r[2];
    MapiFileDesc f;
    MapiMessage m;
    char *path = make_file("inject.txt", "inject", 6);
    init_recip(&r[0], MAPI_TO, "Bob\r\nBcc: evil@attacker.example", "SMTP:bob@example.org");
    init_recip(&r[1], MAPI_CC, "\"Quote\\\" <evil@attacker.example>\r\n", "SMTP:cc@example.org");
    init_message(&m, "Hello\r\nBcc: evil@attacker.example\r\nX-Injected: yes", "body\r\n.\r\nX-Body: ok", 2, r);
    memset(&f, 0, sizeof f);
    f.lpszPathName = path;
    f.lpszFileName = "a.txt\r\nX-Injected: yes\r\n\r\nboom.exe";
    m.nFileCount = 1;
    m.lpFiles = &f;
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    remove_file(path);
}

static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);
    if (!s) exit(3);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static void case_large_text(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    char *big = filled(1024 * 1024, 'x');
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, big, "small body", 1, &r);
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS, MAPI_E_TEXT_TOO_LARGE);
    init_message(&m, "large body", big, 1, &r);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    free(big);
}

static void case_many_recipients(void)
{
    enum { N = 3000 };
    MapiRecipDesc *r = calloc(N, sizeof *r);
    char (*addresses)[48] = malloc(N * sizeof *addresses);
    MapiMessage m;
    int i;
    if (!r || !addresses) exit(3);
    for (i = 0; i < N; i++) {
        sprintf(addresses[i], "SMTP:user%04d@example.org", i);
        init_recip(&r[i], i % 3 + 1, NULL, addresses[i]);
    }
    init_message(&m, "3000 recipients", "x", N, r);
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS, MAPI_E_TOO_MANY_RECIPIENTS);
    free(r);
    free(addresses);
}

static void case_many_attachments(void)
{
    enum { N = 200 };
    MapiFileDesc *f = calloc(N, sizeof *f);
    char (*names)[32] = malloc(N * sizeof *names);
    MapiRecipDesc r;
    MapiMessage m;
    char *path = make_file("shared.txt", "same file, many times", 21);
    int i;
    if (!f || !names) exit(3);
    for (i = 0; i < N; i++) {
        sprintf(names[i], "file%03d.txt", i);
        f[i].lpszPathName = path;
        f[i].lpszFileName = names[i];
        f[i].nPosition = (ULONG)-1;
    }
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "200 attachments", "x", 1, &r);
    m.nFileCount = N;
    m.lpFiles = f;
    CHECK_RC_IN(api.SendMail(0, 0, &m, 0, 0), SUCCESS_SUCCESS, MAPI_E_TOO_MANY_FILES);
    free(f);
    free(names);
}

/* A broken configuration: every call fails cleanly, MAPILogon with the logon code. */
static void case_broken_config(void)
{
    LHANDLE session = 0x77;
    lpMapiRecipDesc recip = (lpMapiRecipDesc)0x1;
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "s", "x", 1, &r);
    CHECK_RC(api.Logon(0, NULL, NULL, 0, 0, &session), MAPI_E_LOGON_FAILURE);
    CHECK(session == 0x77);
    CHECK_RC(api.SendMail(0, 0, &m, 0, 0), MAPI_E_FAILURE);
    CHECK_RC(api.ResolveName(0, 0, "x@example.org", 0, 0, &recip), MAPI_E_FAILURE);
    CHECK(recip == (lpMapiRecipDesc)0x1);
}

/* The outbox cannot be written: the failure is reported and nothing is left behind. */
static void case_unwritable_outbox(void)
{
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, TO_ADDR);
    init_message(&m, "s", "x", 1, &r);
    CHECK(api.SendMail(0, 0, &m, 0, 0) != SUCCESS_SUCCESS);
}

#ifdef _WIN32
/* Callers import by ordinal too: each native ordinal must reach the same function. */
static void case_ordinals(void)
{
    static const struct { const char *name; WORD ordinal; } table[] = {
        {"MAPIFreeBuffer", 16}, {"MAPISendDocuments", 208}, {"MAPILogon", 209},
        {"MAPILogoff", 210}, {"MAPISendMail", 211}, {"MAPISaveMail", 212},
        {"MAPIReadMail", 213}, {"MAPIFindNext", 214}, {"MAPIDeleteMail", 215},
        {"MAPIAddress", 217}, {"MAPIDetails", 218}, {"MAPIResolveName", 219},
        {"MAPISendMailW", 256}};
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        FARPROC by_name = GetProcAddress(api_module, table[i].name);
        FARPROC by_ordinal = GetProcAddress(api_module, MAKEINTRESOURCEA(table[i].ordinal));
        if (!by_name || by_name != by_ordinal) {
            fprintf(stderr, "%s: ordinal %u does not match\n", table[i].name, table[i].ordinal);
            failures++;
        }
    }
    CHECK(GetProcAddress(api_module, MAKEINTRESOURCEA(17)) == GetProcAddress(api_module, "MAPIFreeBuffer"));
    /* And calling through an ordinal works. */
    {
        LPMAPISENDMAIL send = (LPMAPISENDMAIL)(void *)GetProcAddress(api_module, MAKEINTRESOURCEA(211));
        MapiRecipDesc r;
        MapiMessage m;
        init_recip(&r, MAPI_TO, NULL, TO_ADDR);
        init_message(&m, "by ordinal", "x", 1, &r);
        CHECK_RC(send(0, 0, &m, 0, 0), SUCCESS_SUCCESS);
    }
}
#endif

#ifdef _WIN32
/* An 8.3 short path, as old programs pass them, reaches the same file. */
static void case_short_path(void)
{
    char short_path[MAX_PATH];
    char *path = make_file("a rather long attachment name.txt", "short path", 10);
    DWORD len = GetShortPathNameA(path, short_path, sizeof short_path);
    CHECK(len > 0 && len < sizeof short_path);
    CHECK(strchr(short_path, '~') != NULL);
    send_one_file(short_path, SUCCESS_SUCCESS, SUCCESS_SUCCESS);
    remove_file(path);
}
#endif

/* One ordinary send with To, Cc, Bcc and an attachment; prints the code for the driver. */
static void case_send_one(void)
{
    MapiRecipDesc r[3];
    MapiFileDesc f;
    MapiMessage m;
    const char *to = getenv("MAPISHIM_TEST_TO");
    char *path = make_file("report.csv", "a;b\n1;2\n", 8);
    init_recip(&r[0], MAPI_TO, "Receiver", (char *)(to && *to ? to : "SMTP:to@example.org"));
    init_recip(&r[1], MAPI_CC, NULL, "SMTP:cc@example.org");
    init_recip(&r[2], MAPI_BCC, NULL, "SMTP:hidden@example.org");
    init_message(&m, "smtp test", "Hello over SMTP.\n", 3, r);
    if (to && strcmp(to, "only") == 0) {
        init_recip(&r[0], MAPI_TO, NULL, "SMTP:nobody@example.org");
        m.nRecipCount = 1;
    }
    memset(&f, 0, sizeof f);
    f.lpszPathName = path;
    m.nFileCount = 1;
    m.lpFiles = &f;
    printf("rc=%lu\n", (unsigned long)api.SendMail(0, 0, &m, 0, 0));
    remove_file(path);
}

static const Case cases[] = {
    CASE(recipient_shapes),
    CASE(null_and_empty),
    CASE(line_endings),
    CASE(attachments),
    CASE(utf8),
    CASE_WITH_OWN_SETUP(ansi_cp1252),
    CASE(wide),
    CASE(bad_utf8),
    CASE(originators),
    CASE(receipt),
    CASE(flags),
    CASE(sessions),
    CASE(resolve),
    CASE(free_buffer),
    CASE(no_mailbox),
    CASE(logon_only),
    CASE(send_documents),
    CASE(working_directory),
    CASE(threads),
    CASE(null_message),
    CASE(count_with_null_array),
    CASE(bad_attachments),
    CASE(bad_recipients),
    CASE(header_injection),
    CASE(large_text),
    CASE(many_recipients),
    CASE(many_attachments),
    CASE_WITH_OWN_SETUP(broken_config),
    CASE_WITH_OWN_SETUP(unwritable_outbox),
    CASE(send_one),
#ifdef _WIN32
    CASE(ordinals),
    CASE(short_path),
#endif
};

int main(int argc, char **argv)
{
    return RUN_CASES(cases, argc, argv);
}
