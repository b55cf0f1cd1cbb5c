/*
 * Test harness shared by the C programs in tests/c.
 *
 * The programs reach Simple MAPI through function pointers of the SDK's LP… types, the way
 * real callers do. Off Windows the pointers are taken from the linked library; on Windows
 * they come from LoadLibrary("mapi32.dll") + GetProcAddress, by name.
 */
#ifndef MAPISHIM_TEST_HARNESS_H
#define MAPISHIM_TEST_HARNESS_H

#ifdef _WIN32
#include <windows.h>
#endif
#include <mapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <direct.h>
#include <io.h>
#define getcwd _getcwd
#else
#include <pthread.h>
#include <unistd.h>
#endif

/* mingw-w64's <mapi.h> predates the Unicode entry point (Windows 8); callers that use it
 * declare the W forms themselves, as real programs do. Our header has them. */
#ifndef MAPI_FORCE_UNICODE
#define MAPI_FORCE_UNICODE 0x00040000
#define MAPI_DIALOG_MODELESS (0x00000004 | MAPI_DIALOG)
typedef struct {
    ULONG ulReserved;
    ULONG ulRecipClass;
    PWSTR lpszName;
    PWSTR lpszAddress;
    ULONG ulEIDSize;
    PVOID lpEntryID;
} MapiRecipDescW, *lpMapiRecipDescW;
typedef struct {
    ULONG ulReserved;
    ULONG flFlags;
    ULONG nPosition;
    PWSTR lpszPathName;
    PWSTR lpszFileName;
    PVOID lpFileType;
} MapiFileDescW, *lpMapiFileDescW;
typedef struct {
    ULONG ulReserved;
    PWSTR lpszSubject;
    PWSTR lpszNoteText;
    PWSTR lpszMessageType;
    PWSTR lpszDateReceived;
    PWSTR lpszConversationID;
    FLAGS flFlags;
    lpMapiRecipDescW lpOriginator;
    ULONG nRecipCount;
    lpMapiRecipDescW lpRecips;
    ULONG nFileCount;
    lpMapiFileDescW lpFiles;
} MapiMessageW, *lpMapiMessageW;
typedef ULONG(WINAPI *LPMAPISENDMAILW)(LHANDLE, ULONG_PTR, lpMapiMessageW, FLAGS, ULONG);
#endif

typedef struct {
    LPMAPILOGON Logon;
    LPMAPILOGOFF Logoff;
    LPMAPISENDMAIL SendMail;
    LPMAPISENDMAILW SendMailW;
    LPMAPISENDDOCUMENTS SendDocuments;
    LPMAPIFINDNEXT FindNext;
    LPMAPIREADMAIL ReadMail;
    LPMAPISAVEMAIL SaveMail;
    LPMAPIDELETEMAIL DeleteMail;
    LPMAPIFREEBUFFER FreeBuffer;
    LPMAPIADDRESS Address;
    LPMAPIDETAILS Details;
    LPMAPIRESOLVENAME ResolveName;
} MapiApi;

static MapiApi api;
#ifdef _WIN32
static HMODULE api_module;
#endif
static int failures = 0;

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                         \
        }                                                                       \
    } while (0)

#define CHECK_RC(expr, expected)                                                \
    do {                                                                        \
        unsigned long rc_ = (unsigned long)(expr);                              \
        if (rc_ != (unsigned long)(expected)) {                                 \
            fprintf(stderr, "%s:%d: %s returned %lu, expected %lu\n", __FILE__, \
                    __LINE__, #expr, rc_, (unsigned long)(expected));           \
            failures++;                                                         \
        }                                                                       \
    } while (0)

/* Accepts any of the listed codes (the issue allows alternatives for some inputs). */
#define CHECK_RC_IN(expr, a, b)                                                 \
    do {                                                                        \
        unsigned long rc_ = (unsigned long)(expr);                              \
        if (rc_ != (unsigned long)(a) && rc_ != (unsigned long)(b)) {           \
            fprintf(stderr, "%s:%d: %s returned %lu, expected %lu or %lu\n",     \
                    __FILE__, __LINE__, #expr, rc_, (unsigned long)(a),         \
                    (unsigned long)(b));                                        \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static int load_api(void)
{
#ifdef _WIN32
    HMODULE lib = LoadLibraryA("mapi32.dll");
    if (!lib) {
        fprintf(stderr, "cannot load mapi32.dll (error %lu)\n", (unsigned long)GetLastError());
        return 0;
    }
    api_module = lib;
#define LOAD(field, name) api.field = (void *)GetProcAddress(lib, #name)
#else
#define LOAD(field, name) api.field = name
#endif
    LOAD(Logon, MAPILogon);
    LOAD(Logoff, MAPILogoff);
    LOAD(SendMail, MAPISendMail);
    LOAD(SendMailW, MAPISendMailW);
    LOAD(SendDocuments, MAPISendDocuments);
    LOAD(FindNext, MAPIFindNext);
    LOAD(ReadMail, MAPIReadMail);
    LOAD(SaveMail, MAPISaveMail);
    LOAD(DeleteMail, MAPIDeleteMail);
    LOAD(FreeBuffer, MAPIFreeBuffer);
    LOAD(Address, MAPIAddress);
    LOAD(Details, MAPIDetails);
    LOAD(ResolveName, MAPIResolveName);
#undef LOAD
    return api.Logon && api.Logoff && api.SendMail && api.SendMailW && api.SendDocuments &&
           api.FindNext && api.ReadMail && api.SaveMail && api.DeleteMail && api.FreeBuffer &&
           api.Address && api.Details && api.ResolveName;
}

/* The scratch folder the test driver gives us (for attachments). */
static const char *scratch_dir(void)
{
    const char *dir = getenv("MAPISHIM_TEST_SCRATCH");
    return dir && *dir ? dir : ".";
}

/* Test file names are UTF-8; Windows' narrow file functions would read them as ANSI. */
#ifdef _WIN32
static wchar_t *utf8_to_wide(const char *text, wchar_t *out, int size)
{
    if (!MultiByteToWideChar(CP_UTF8, 0, text, -1, out, size)) out[0] = 0;
    return out;
}

static inline FILE *open_utf8(const char *path, const char *mode)
{
    wchar_t wpath[1024], wmode[8];
    return _wfopen(utf8_to_wide(path, wpath, 1024), utf8_to_wide(mode, wmode, 8));
}

static inline void remove_file(const char *path)
{
    wchar_t wpath[1024];
    _wremove(utf8_to_wide(path, wpath, 1024));
}
#else
#define open_utf8 fopen
#define remove_file remove
#endif

/* Writes a scratch file and returns its path in a static rotating buffer. */
static char *make_file(const char *name, const char *content, size_t len)
{
    static char paths[8][1024];
    static int next = 0;
    char *path = paths[next++ % 8];
    FILE *f;
    sprintf(path, "%s/%s", scratch_dir(), name);
    f = open_utf8(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(3);
    }
    if (len) fwrite(content, 1, len, f);
    fclose(f);
    return path;
}

static void init_recip(MapiRecipDesc *r, ULONG cls, char *name, char *address)
{
    memset(r, 0, sizeof *r);
    r->ulRecipClass = cls;
    r->lpszName = name;
    r->lpszAddress = address;
}

static void init_message(MapiMessage *m, char *subject, char *text, ULONG nrecips, MapiRecipDesc *recips)
{
    memset(m, 0, sizeof *m);
    m->lpszSubject = subject;
    m->lpszNoteText = text;
    m->nRecipCount = nrecips;
    m->lpRecips = recips;
}

/* ---- case dispatch ----------------------------------------------------------------- */

/* A case needs a configuration or files the driver sets up for it alone (it fails under
 * the default setup), so `--list` tags it and generic runners such as valgrind leave it
 * out. */
#define CASE_OWN_SETUP 1u

typedef struct {
    const char *name;
    void (*run)(void);
    unsigned flags;
} Case;

/* Table entries: CASE(x) runs case_x(); the name is the function's, so they cannot differ. */
#define CASE(name) {#name, case_##name, 0}
#define CASE_WITH_OWN_SETUP(name) {#name, case_##name, CASE_OWN_SETUP}

/* `PROGRAM CASE` runs one case: exit 0 when every check passed, 1 when one failed, 2 for an
 * unknown case, 4 when the library lacks an entry point. `PROGRAM --list` prints one case
 * per line, with " own-setup" after those that need the driver's own setup. (inline: the
 * programs without cases include this file too, and an unused inline is no warning.) */
static inline int run_cases(const Case *cases, size_t count, int argc, char **argv)
{
    size_t i;
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (i = 0; i < count; i++)
            printf("%s%s\n", cases[i].name, cases[i].flags & CASE_OWN_SETUP ? " own-setup" : "");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE | --list\n", argv[0]);
        return 2;
    }
    if (!load_api()) {
        fprintf(stderr, "Simple MAPI entry points missing\n");
        return 4;
    }
    for (i = 0; i < count; i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            if (failures) fprintf(stderr, "%s: %d check(s) failed\n", argv[1], failures);
            return failures ? 1 : 0;
        }
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}

#define RUN_CASES(cases, argc, argv) run_cases((cases), sizeof(cases) / sizeof((cases)[0]), (argc), (argv))

#endif
