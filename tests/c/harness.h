/*
 * Test harness shared by the C programs in tests/c.
 *
 * The programs reach Simple MAPI through function pointers of the SDK's LP… types, the way
 * real callers do. Off Windows the pointers are taken from the linked library; on Windows
 * they come from LoadLibrary("mapi32.dll") + GetProcAddress, by name.
 */
#ifndef MAPISHIM_TEST_HARNESS_H
#define MAPISHIM_TEST_HARNESS_H

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
#define LOAD(field, name) api.field = (void *)GetProcAddress(lib, name)
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

/* Writes a scratch file and returns its path in a static rotating buffer. */
static char *make_file(const char *name, const char *content, size_t len)
{
    static char paths[8][1024];
    static int next = 0;
    char *path = paths[next++ % 8];
    FILE *f;
    sprintf(path, "%s/%s", scratch_dir(), name);
    f = fopen(path, "wb");
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

#endif
