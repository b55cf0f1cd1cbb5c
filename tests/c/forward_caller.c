/*
 * A caller for the forward backend's tests (tests/test_forward.py): `forward_caller CASE`.
 * It calls our library like any program; tests/c/test_provider.c, configured as the forward
 * provider, records what reaches it, and the driver compares the two.
 *
 * Cases print `name=value` lines for the driver and CHECK what does not depend on the
 * provider; the exit code is non-zero when a CHECK failed.
 *   send        MAPISendMail; FORWARD_FLAGS = call flags, FORWARD_UTF8=1 for a CP_UTF8 message
 *   send_wide   MAPISendMailW; FORWARD_CJK=1 adds text no ANSI code page of the test has
 *   sessions    MAPILogon, send on the session, MAPILogoff, send on the dead handle
 *   resolve     MAPIResolveName on session 0 and on a logged-on session
 *   resolve_send  MAPIResolveName, then MAPISendMail with the resolved recipient as given and
 *               with only its entry ID (name and address NULL)
 *   refused     logon and send codes only (for a configuration that cannot load)
 */
#include "harness.h"

#define UI_PARAM ((ULONG_PTR)0x1234)

static FLAGS env_flags(void)
{
    const char *flags = getenv("FORWARD_FLAGS");
    return flags && *flags ? (FLAGS)strtoul(flags, NULL, 0) : 0;
}

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && strcmp(v, "1") == 0;
}

static void case_send(void)
{
    static unsigned char entry_id[] = {0xDE, 0xAD, 0xBE, 0xEF};
    MapiRecipDesc r[3], from;
    MapiFileDesc f[2];
    MapiMessage m;
    int utf8 = env_set("FORWARD_UTF8");
    /* cp1252 "Café €" or the UTF-8 "Grüße €". */
    char *subject = utf8 ? "Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC" : "Caf\xE9 \x80";
    char *report = make_file("report.csv", "a;b\n1;2\n", 8);
    char notes_path[1024];
    strcpy(notes_path, make_file("notes.txt", "notes", 5));
    init_recip(&r[0], MAPI_TO, "Receiver", "SMTP:to@example.org");
    init_recip(&r[1], MAPI_CC, "Alice Martin", NULL);
    init_recip(&r[2], MAPI_BCC, NULL, "bcc@example.org");
    r[2].ulEIDSize = sizeof entry_id;
    r[2].lpEntryID = entry_id;
    init_recip(&from, MAPI_ORIG, "Sender", "SMTP:sender@example.org");
    init_message(&m, subject, "Body line 1\nline 2\n", 3, r);
    m.ulReserved = utf8 ? 65001 : 0;
    m.flFlags = MAPI_RECEIPT_REQUESTED;
    m.lpOriginator = &from;
    memset(f, 0, sizeof f);
    f[0].nPosition = (ULONG)-1;
    f[0].lpszPathName = report;
    f[0].lpszFileName = "Quarterly report.csv";
    f[1].nPosition = (ULONG)-1;
    f[1].lpszPathName = notes_path;
    m.nFileCount = 2;
    m.lpFiles = f;
    printf("rc=%lu\n", (unsigned long)api.SendMail(0, UI_PARAM, &m, env_flags(), 0));
    /* Callers delete their files as soon as the call returns. */
    remove_file(report);
    remove_file(notes_path);
}

/* UTF-8 (BMP only) to UTF-16, so the wide strings stay readable here; C99 has no u"". */
static WCHAR *wide(const char *utf8, WCHAR *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)utf8;
    size_t n = 0;
    while (*p && n + 1 < size) {
        if (*p < 0x80) {
            out[n++] = *p++;
        } else if (*p < 0xE0) {
            out[n++] = (WCHAR)(((p[0] & 0x1F) << 6) | (p[1] & 0x3F));
            p += 2;
        } else {
            out[n++] = (WCHAR)(((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F));
            p += 3;
        }
    }
    out[n] = 0;
    return out;
}

static void case_send_wide(void)
{
    MapiRecipDescW r;
    MapiFileDescW f;
    MapiMessageW m;
    WCHAR path[1024], name[64], address[64], display[64], subject[64], body[64];
    char *file = make_file("wide.txt", "wide!!", 6);
    const char *text = env_set("FORWARD_CJK") ? "Wide caf\xC3\xA9 \xE6\xBC\xA2\xE5\xAD\x97" : "Wide caf\xC3\xA9";
    memset(&r, 0, sizeof r);
    r.ulRecipClass = MAPI_TO;
    r.lpszName = wide("R\xC3\xA9" "cepteur", name, 64);
    r.lpszAddress = wide("SMTP:to@example.org", address, 64);
    memset(&f, 0, sizeof f);
    f.nPosition = (ULONG)-1;
    f.lpszPathName = wide(file, path, 1024);
    f.lpszFileName = wide("R\xC3\xA9sum\xC3\xA9.txt", display, 64);
    memset(&m, 0, sizeof m);
    m.lpszSubject = wide(text, subject, 64);
    m.lpszNoteText = wide("Wide body\n", body, 64);
    m.nRecipCount = 1;
    m.lpRecips = &r;
    m.nFileCount = 1;
    m.lpFiles = &f;
    printf("rc=%lu\n", (unsigned long)api.SendMailW(0, UI_PARAM, &m, env_flags(), 0));
    remove_file(file);
}

static void case_sessions(void)
{
    LHANDLE session = 0;
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, "SMTP:to@example.org");
    init_message(&m, "on a session", "x", 1, &r);
    CHECK_RC(api.Logon(0x55, "profile", "secret", MAPI_NEW_SESSION | MAPI_LOGON_UI, 0, &session), SUCCESS_SUCCESS);
    CHECK(session != 0);
    printf("session=%lu\n", (unsigned long)session);
    CHECK_RC(api.SendMail(session, UI_PARAM, &m, 0, 0), SUCCESS_SUCCESS);
    CHECK_RC(api.SendMail(0, UI_PARAM, &m, 0, 0), SUCCESS_SUCCESS);
    CHECK_RC(api.Logoff(session, 0, 0, 0), SUCCESS_SUCCESS);
    CHECK_RC(api.SendMail(session, UI_PARAM, &m, 0, 0), MAPI_E_INVALID_SESSION);
}

static void case_resolve(void)
{
    lpMapiRecipDesc recip = NULL, untouched = (lpMapiRecipDesc)0x1234;
    LHANDLE session = 0;
    CHECK_RC(api.ResolveName(0, 0, "Carol Jones", 0, 0, &recip), SUCCESS_SUCCESS);
    if (recip) {
        CHECK(recip->ulRecipClass == MAPI_TO);
        CHECK(strcmp(recip->lpszName, "Resolved Carol Jones") == 0);
        CHECK(strcmp(recip->lpszAddress, "SMTP:carol.jones@provider.example") == 0);
        CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
    }
    CHECK_RC(api.ResolveName(0, 0, "unknown", 0, 0, &untouched), MAPI_E_UNKNOWN_RECIPIENT);
    CHECK_RC(api.ResolveName(0, 0, "exchange", 0, 0, &untouched), MAPI_E_UNKNOWN_RECIPIENT);
    printf("implausible=%lu\n", (unsigned long)api.ResolveName(0, 0, "implausible", 0, 0, &untouched));
    CHECK(untouched == (lpMapiRecipDesc)0x1234);
    CHECK_RC(api.Logon(0, NULL, NULL, 0, 0, &session), SUCCESS_SUCCESS);
    recip = NULL;
    CHECK_RC(api.ResolveName(session, 0, "Dave", 0, 0, &recip), SUCCESS_SUCCESS);
    if (recip) {
        CHECK(strcmp(recip->lpszAddress, "SMTP:dave@provider.example") == 0);
        CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
    }
    CHECK_RC(api.Logoff(session, 0, 0, 0), SUCCESS_SUCCESS);
}

static void case_resolve_send(void)
{
    lpMapiRecipDesc recip = NULL;
    MapiRecipDesc r[2];
    MapiMessage m;
    CHECK_RC(api.ResolveName(0, 0, "Carol Jones", 0, 0, &recip), SUCCESS_SUCCESS);
    if (!recip) return;
    CHECK(recip->ulEIDSize > 0 && recip->lpEntryID != NULL);
    r[0] = *recip;
    r[0].ulRecipClass = MAPI_TO;
    init_recip(&r[1], MAPI_CC, NULL, NULL);
    r[1].ulEIDSize = recip->ulEIDSize;
    r[1].lpEntryID = recip->lpEntryID;
    init_message(&m, "resolved", "x", 2, r);
    printf("rc=%lu\n", (unsigned long)api.SendMail(0, UI_PARAM, &m, 0, 0));
    CHECK_RC(api.FreeBuffer(recip), SUCCESS_SUCCESS);
}

static void case_refused(void)
{
    LHANDLE session = 0;
    MapiRecipDesc r;
    MapiMessage m;
    init_recip(&r, MAPI_TO, NULL, "SMTP:to@example.org");
    init_message(&m, "never sent", "x", 1, &r);
    printf("logon=%lu\n", (unsigned long)api.Logon(0, NULL, NULL, 0, 0, &session));
    printf("send=%lu\n", (unsigned long)api.SendMail(0, 0, &m, 0, 0));
}

static const Case cases[] = {
    CASE(send),
    CASE(send_wide),
    CASE(sessions),
    CASE(resolve),
    CASE(resolve_send),
    CASE(refused),
};

int main(int argc, char **argv)
{
    return RUN_CASES(cases, argc, argv);
}
