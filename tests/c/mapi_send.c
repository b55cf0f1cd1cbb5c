/*
 * A "Send by e-mail" caller driven from the command line, for the backend, composer and
 * routing tests: it builds one message from its arguments, calls MAPISendMail (or
 * MAPISendMailW, or MAPIResolveName) through the same function-pointer table real callers
 * use, deletes the attachment files it created, and prints "rc=N".
 *
 *   --logon              MAPILogon(profile "profile", password "secret") first, MAPILogoff after
 *   --flags N            flFlags (decimal or 0x…)
 *   --ui N               ulUIParam
 *   --wide               MAPISendMailW with the same texts in UTF-16
 *   --ansi               narrow strings without CP_UTF8 (default: ulReserved = CP_UTF8)
 *   --subject S --body B --type T
 *   --to A --cc A --bcc A   recipients with only an address (e.g. SMTP:x@example.org)
 *   --to-name N          a recipient with only a name (to be resolved)
 *   --to-named N::A      a recipient with a name and an address
 *   --position N         nPosition of every attachment (default (ULONG)-1)
 *   --from A             originator address
 *   --attach PATH[::NAME]        attach an existing file (display name NAME)
 *   --make-attach NAME::CONTENT  create a scratch file with a different name, attach it as
 *                                NAME, and delete it as soon as the call returns
 *   --resolve NAME       MAPIResolveName instead of a send; prints name= and address=
 *   --repeat N           send N times
 *   --linger             after "returned", stay until standard input ends (a modeless
 *                        compose window lives in this process)
 *
 * Arguments are UTF-8 (on Windows they are taken from the UTF-16 command line).
 */
#include "harness.h"

#define MAX_ITEMS 256

typedef struct {
    char *path;
    char *name;
    int created;
} Attach;

static MapiRecipDesc recips[MAX_ITEMS];
static ULONG n_recips;
static Attach attaches[MAX_ITEMS];
static ULONG n_attaches;
static ULONG position = (ULONG)-1;

static unsigned long number(const char *text)
{
    return strtoul(text, NULL, 0);
}

/* UTF-8 → UTF-16, allocated; enough for the test texts (BMP and surrogate pairs). */
static WCHAR *widen(const char *s)
{
    size_t n = strlen(s), i = 0, o = 0;
    WCHAR *w;
    if (!s) return NULL;
    w = calloc(n + 1, sizeof *w);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        unsigned long cp;
        int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        cp = extra == 3 ? c & 0x07 : extra == 2 ? c & 0x0F : extra == 1 ? c & 0x1F : c;
        for (i++; extra-- > 0 && i < n; i++) cp = (cp << 6) | ((unsigned char)s[i] & 0x3F);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            w[o++] = (WCHAR)(0xD800 + (cp >> 10));
            w[o++] = (WCHAR)(0xDC00 + (cp & 0x3FF));
        } else {
            w[o++] = (WCHAR)cp;
        }
    }
    return w;
}

static WCHAR *widen_or_null(const char *s)
{
    return s ? widen(s) : NULL;
}

static ULONG send_wide(LHANDLE session, ULONG_PTR ui, MapiMessage *m, FLAGS flags)
{
    MapiMessageW w;
    MapiRecipDescW wr[MAX_ITEMS], wo;
    MapiFileDescW wf[MAX_ITEMS];
    ULONG i;
    memset(&w, 0, sizeof w);
    w.lpszSubject = widen_or_null(m->lpszSubject);
    w.lpszNoteText = widen_or_null(m->lpszNoteText);
    w.lpszMessageType = widen_or_null(m->lpszMessageType);
    w.flFlags = m->flFlags;
    for (i = 0; i < m->nRecipCount; i++) {
        memset(&wr[i], 0, sizeof wr[i]);
        wr[i].ulRecipClass = m->lpRecips[i].ulRecipClass;
        wr[i].lpszName = widen_or_null(m->lpRecips[i].lpszName);
        wr[i].lpszAddress = widen_or_null(m->lpRecips[i].lpszAddress);
    }
    w.nRecipCount = m->nRecipCount;
    w.lpRecips = wr;
    if (m->lpOriginator) {
        memset(&wo, 0, sizeof wo);
        wo.lpszAddress = widen_or_null(m->lpOriginator->lpszAddress);
        w.lpOriginator = &wo;
    }
    for (i = 0; i < m->nFileCount; i++) {
        memset(&wf[i], 0, sizeof wf[i]);
        wf[i].nPosition = m->lpFiles[i].nPosition;
        wf[i].lpszPathName = widen_or_null(m->lpFiles[i].lpszPathName);
        wf[i].lpszFileName = widen_or_null(m->lpFiles[i].lpszFileName);
    }
    w.nFileCount = m->nFileCount;
    w.lpFiles = wf;
    return api.SendMailW(session, ui, &w, flags, 0);
}

static void add_recip(ULONG cls, char *name, char *address)
{
    if (n_recips < MAX_ITEMS) init_recip(&recips[n_recips++], cls, name, address);
}

static void add_attach(char *spec, int create)
{
    char *sep = strstr(spec, "::");
    Attach *a;
    if (n_attaches >= MAX_ITEMS) return;
    a = &attaches[n_attaches++];
    if (sep) *sep = 0;
    if (create) {
        char temp_name[64];
        const char *content = sep ? sep + 2 : "";
        sprintf(temp_name, "mapi_send_%u.tmp", (unsigned)n_attaches);
        const char *made = make_file(temp_name, content, strlen(content));
        a->path = malloc(strlen(made) + 1);
        strcpy(a->path, made);
        a->name = spec;
        a->created = 1;
    } else {
        a->path = spec;
        a->name = sep ? sep + 2 : NULL;
    }
}

#ifdef _WIN32
/* The command line as UTF-8, so that tests can pass any text on Windows too. */
static char **utf8_argv(int *argc)
{
    LPWSTR *wargv = CommandLineToArgvW(GetCommandLineW(), argc);
    char **argv = calloc((size_t)*argc + 1, sizeof *argv);
    int i;
    for (i = 0; i < *argc; i++) {
        int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
        argv[i] = malloc((size_t)n);
        WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL);
    }
    return argv;
}
#endif

int main(int argc, char **argv)
{
    MapiMessage m;
    MapiRecipDesc originator;
    MapiFileDesc files[MAX_ITEMS];
    FLAGS flags = 0;
    ULONG_PTR ui = 0;
    LHANDLE session = 0;
    int logon = 0, wide = 0, ansi = 0, linger = 0, repeat = 1, i;
    char *resolve = NULL;
    ULONG rc = 0, n;
#ifdef _WIN32
    argv = utf8_argv(&argc);
#endif
    init_message(&m, NULL, NULL, 0, NULL);
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i];
        char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--logon") == 0) { logon = 1; continue; }
        if (strcmp(opt, "--wide") == 0) { wide = 1; continue; }
        if (strcmp(opt, "--ansi") == 0) { ansi = 1; continue; }
        if (strcmp(opt, "--linger") == 0) { linger = 1; continue; }
        if (!val) {
            fprintf(stderr, "%s needs a value\n", opt);
            return 2;
        }
        i++;
        if (strcmp(opt, "--flags") == 0) flags = (FLAGS)number(val);
        else if (strcmp(opt, "--ui") == 0) ui = (ULONG_PTR)number(val);
        else if (strcmp(opt, "--subject") == 0) m.lpszSubject = val;
        else if (strcmp(opt, "--body") == 0) m.lpszNoteText = val;
        else if (strcmp(opt, "--type") == 0) m.lpszMessageType = val;
        else if (strcmp(opt, "--to") == 0) add_recip(MAPI_TO, NULL, val);
        else if (strcmp(opt, "--cc") == 0) add_recip(MAPI_CC, NULL, val);
        else if (strcmp(opt, "--bcc") == 0) add_recip(MAPI_BCC, NULL, val);
        else if (strcmp(opt, "--to-name") == 0) add_recip(MAPI_TO, val, NULL);
        else if (strcmp(opt, "--to-named") == 0 && val && strstr(val, "::")) {
            char *sep = strstr(val, "::");
            *sep = 0;
            add_recip(MAPI_TO, val, sep + 2);
        } else if (strcmp(opt, "--position") == 0) position = (ULONG)number(val);
        else if (strcmp(opt, "--from") == 0) {
            init_recip(&originator, MAPI_ORIG, NULL, val);
            m.lpOriginator = &originator;
        } else if (strcmp(opt, "--attach") == 0) add_attach(val, 0);
        else if (strcmp(opt, "--make-attach") == 0) add_attach(val, 1);
        else if (strcmp(opt, "--resolve") == 0) resolve = val;
        else if (strcmp(opt, "--repeat") == 0) repeat = (int)number(val);
        else {
            fprintf(stderr, "unknown option %s\n", opt);
            return 2;
        }
    }
    if (!load_api()) {
        fprintf(stderr, "Simple MAPI entry points missing\n");
        return 4;
    }
    m.ulReserved = ansi ? 0 : 65001;
    m.nRecipCount = n_recips;
    m.lpRecips = n_recips ? recips : NULL;
    for (n = 0; n < n_attaches; n++) {
        memset(&files[n], 0, sizeof files[n]);
        files[n].nPosition = position;
        files[n].lpszPathName = attaches[n].path;
        files[n].lpszFileName = attaches[n].name;
    }
    m.nFileCount = n_attaches;
    m.lpFiles = n_attaches ? files : NULL;

    if (logon) {
        rc = api.Logon(ui, "profile", "secret", MAPI_NEW_SESSION | MAPI_LOGON_UI, 0, &session);
        printf("logon=%lu\n", (unsigned long)rc);
        if (rc != SUCCESS_SUCCESS) return 0;
    }
    if (resolve) {
        lpMapiRecipDesc found = NULL;
        rc = api.ResolveName(session, ui, resolve, 0, 0, &found);
        if (rc == SUCCESS_SUCCESS && found) {
            printf("name=%s\naddress=%s\n", found->lpszName ? found->lpszName : "",
                   found->lpszAddress ? found->lpszAddress : "");
            api.FreeBuffer(found);
        }
        printf("rc=%lu\n", (unsigned long)rc);
    } else {
        for (i = 0; i < repeat; i++) {
            rc = wide ? send_wide(session, ui, &m, flags) : api.SendMail(session, ui, &m, flags, 0);
            printf("rc=%lu\n", (unsigned long)rc);
        }
    }
    /* Callers delete their temporary files as soon as the call returns. */
    for (n = 0; n < n_attaches; n++)
        if (attaches[n].created) remove_file(attaches[n].path);
    printf("returned\n");
    (void)failures;
    fflush(stdout);
    while (linger && getchar() != EOF) {}
    if (logon) printf("logoff=%lu\n", (unsigned long)api.Logoff(session, ui, 0, 0));
    return 0;
}
