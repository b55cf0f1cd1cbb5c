/*
 * A Simple MAPI provider for the forward backend's tests (tests/test_forward.py).
 *
 * It records every call it receives as one JSON object per line in the file named by
 * MAPISHIM_PROVIDER_LOG: the function, session handle, flags, ulUIParam, ulReserved, every
 * string of the message (as hex, so any encoding survives: bytes for ANSI, big-endian UTF-16
 * units for W), and the size of each attachment, read during the call (-1: unreadable).
 *
 * Build with -DPROVIDER_UNICODE to export MAPISendMailW as well. Session handles are its own
 * (0x7000 + n) and are checked: a handle it never issued is MAPI_E_INVALID_SESSION.
 * MAPIResolveName answers "Resolved <name>" / "SMTP:<name, lower case, spaces as dots>@provider.example"
 * in one malloc'd block, "unknown" with MAPI_E_UNKNOWN_RECIPIENT, and "exchange" with an EX:
 * address, and "implausible" with the pointer 0x20 (as a broken provider might).
 * MAPISHIM_PROVIDER_SEND_RC, when set, is what the send functions return.
 * MAPISHIM_PROVIDER_CALL_BACK (Linux), when set, is the path of a Simple MAPI library whose
 * MAPISendMail MAPISendMail calls first, as the system mapi32.dll stub would when it leads
 * back to mapishim; the record has its code as "call_back_rc", and so does the return value.
 * Build with -DPROVIDER_NO_FREE_BUFFER to leave out MAPIFreeBuffer.
 */
#include <mapi.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <dlfcn.h>
#endif

#define MAX_SESSIONS 16
static LHANDLE sessions[MAX_SESSIONS];
static int issued = 0;
static void *blocks[MAX_SESSIONS];

static FILE *open_log(void)
{
    const char *path = getenv("MAPISHIM_PROVIDER_LOG");
    return path && *path ? fopen(path, "ab") : NULL;
}

static void hex_narrow(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) fprintf(f, "%02x", (unsigned)(unsigned char)*s);
    fputc('"', f);
}

#ifdef PROVIDER_UNICODE
static void hex_wide(FILE *f, const WCHAR *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) fprintf(f, "%04x", (unsigned)*s);
    fputc('"', f);
}
#endif

static void hex_bytes(FILE *f, const void *p, ULONG n)
{
    ULONG i;
    if (!p) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (i = 0; i < n; i++) fprintf(f, "%02x", (unsigned)((const unsigned char *)p)[i]);
    fputc('"', f);
}

static int known_session(LHANDLE h)
{
    int i;
    if (h == 0) return 1;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] == h) return 1;
    return 0;
}

static long file_size(FILE *f)
{
    long n = 0;
    if (!f) return -1;
    while (fgetc(f) != EOF) n++;
    fclose(f);
    return n;
}

/* Opens a narrow path the way the message's ulReserved says it is encoded. */
static long narrow_file_size(const char *path, ULONG reserved)
{
#ifdef _WIN32
    if (reserved == 65001) {
        wchar_t wide[1024];
        if (!MultiByteToWideChar(CP_UTF8, 0, path, -1, wide, 1024)) return -1;
        return file_size(_wfopen(wide, L"rb"));
    }
#else
    (void)reserved;
#endif
    return file_size(fopen(path, "rb"));
}

#ifdef PROVIDER_UNICODE
static long wide_file_size(const WCHAR *path)
{
#ifdef _WIN32
    return file_size(_wfopen(path, L"rb"));
#else
    /* UTF-16 → UTF-8, enough for the test's paths (no surrogate pairs). */
    char utf8[4096];
    size_t n = 0;
    for (; *path && n + 4 < sizeof utf8; path++) {
        unsigned c = *path;
        if (c < 0x80) {
            utf8[n++] = (char)c;
        } else if (c < 0x800) {
            utf8[n++] = (char)(0xC0 | (c >> 6));
            utf8[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            utf8[n++] = (char)(0xE0 | (c >> 12));
            utf8[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
            utf8[n++] = (char)(0x80 | (c & 0x3F));
        }
    }
    utf8[n] = 0;
    return file_size(fopen(utf8, "rb"));
#endif
}
#endif

static ULONG send_rc(void)
{
    const char *rc = getenv("MAPISHIM_PROVIDER_SEND_RC");
    return rc && *rc ? (ULONG)strtoul(rc, NULL, 10) : SUCCESS_SUCCESS;
}

/* One body for both message forms: HEX writes a string, SIZE reads an attachment. */
#define LOG_MESSAGE(f, m, HEX, SIZE)                                                   \
    do {                                                                               \
        ULONG i_;                                                                      \
        fprintf(f, ",\"msg_reserved\":%lu,\"msg_flags\":%lu,\"subject\":",             \
                (unsigned long)(m)->ulReserved, (unsigned long)(m)->flFlags);           \
        HEX(f, (m)->lpszSubject);                                                      \
        fputs(",\"body\":", f);                                                        \
        HEX(f, (m)->lpszNoteText);                                                     \
        fputs(",\"type\":", f);                                                        \
        HEX(f, (m)->lpszMessageType);                                                  \
        fputs(",\"originator\":", f);                                                  \
        if ((m)->lpOriginator) {                                                       \
            fputs("{\"name\":", f);                                                    \
            HEX(f, (m)->lpOriginator->lpszName);                                       \
            fputs(",\"address\":", f);                                                 \
            HEX(f, (m)->lpOriginator->lpszAddress);                                    \
            fputc('}', f);                                                             \
        } else {                                                                       \
            fputs("null", f);                                                          \
        }                                                                              \
        fputs(",\"recips\":[", f);                                                     \
        for (i_ = 0; i_ < (m)->nRecipCount; i_++) {                                    \
            fprintf(f, "%s{\"class\":%lu,\"name\":", i_ ? "," : "",                    \
                    (unsigned long)(m)->lpRecips[i_].ulRecipClass);                    \
            HEX(f, (m)->lpRecips[i_].lpszName);                                        \
            fputs(",\"address\":", f);                                                 \
            HEX(f, (m)->lpRecips[i_].lpszAddress);                                     \
            fputs(",\"entry_id\":", f);                                                \
            hex_bytes(f, (m)->lpRecips[i_].lpEntryID, (m)->lpRecips[i_].ulEIDSize);    \
            fputc('}', f);                                                             \
        }                                                                              \
        fputs("],\"files\":[", f);                                                     \
        for (i_ = 0; i_ < (m)->nFileCount; i_++) {                                     \
            fprintf(f, "%s{\"path\":", i_ ? "," : "");                                 \
            HEX(f, (m)->lpFiles[i_].lpszPathName);                                     \
            fputs(",\"name\":", f);                                                    \
            HEX(f, (m)->lpFiles[i_].lpszFileName);                                     \
            fprintf(f, ",\"position\":%lu,\"size\":%ld}",                              \
                    (unsigned long)(m)->lpFiles[i_].nPosition,                         \
                    (m)->lpFiles[i_].lpszPathName ? SIZE : -1L);                       \
        }                                                                              \
        fputc(']', f);                                                                 \
    } while (0)

ULONG FAR PASCAL MAPILogon(ULONG_PTR ulUIParam, LPSTR lpszProfileName, LPSTR lpszPassword,
                           FLAGS flFlags, ULONG ulReserved, LPLHANDLE lplhSession)
{
    FILE *f = open_log();
    LHANDLE handle;
    if (!lplhSession || issued >= MAX_SESSIONS) return MAPI_E_FAILURE;
    handle = (LHANDLE)(0x7000 + issued);
    sessions[issued++] = handle;
    *lplhSession = handle;
    if (f) {
        fprintf(f, "{\"fn\":\"MAPILogon\",\"ui\":%lu,\"flags\":%lu,\"reserved\":%lu,\"profile\":",
                (unsigned long)ulUIParam, (unsigned long)flFlags, (unsigned long)ulReserved);
        hex_narrow(f, lpszProfileName);
        fputs(",\"password\":", f);
        hex_narrow(f, lpszPassword);
        fprintf(f, ",\"issued\":%lu}\n", (unsigned long)handle);
        fclose(f);
    }
    return SUCCESS_SUCCESS;
}

ULONG FAR PASCAL MAPILogoff(LHANDLE lhSession, ULONG_PTR ulUIParam, FLAGS flFlags, ULONG ulReserved)
{
    FILE *f = open_log();
    int i, known = 0;
    for (i = 0; i < MAX_SESSIONS; i++) {
        if (lhSession && sessions[i] == lhSession) {
            sessions[i] = 0;
            known = 1;
        }
    }
    if (f) {
        fprintf(f, "{\"fn\":\"MAPILogoff\",\"session\":%lu,\"ui\":%lu,\"flags\":%lu,\"reserved\":%lu,\"known\":%s}\n",
                (unsigned long)lhSession, (unsigned long)ulUIParam, (unsigned long)flFlags,
                (unsigned long)ulReserved, known ? "true" : "false");
        fclose(f);
    }
    return known ? SUCCESS_SUCCESS : MAPI_E_INVALID_SESSION;
}

static void log_call(FILE *f, const char *fn, LHANDLE session, ULONG_PTR ui, FLAGS flags, ULONG reserved)
{
    fprintf(f, "{\"fn\":\"%s\",\"session\":%lu,\"known\":%s,\"ui\":%lu,\"flags\":%lu,\"reserved\":%lu", fn,
            (unsigned long)session, known_session(session) ? "true" : "false", (unsigned long)ui,
            (unsigned long)flags, (unsigned long)reserved);
}

/* Calls MAPISendMail of the library named by MAPISHIM_PROVIDER_CALL_BACK; -1 when unset. */
static long call_back(ULONG_PTR ui, lpMapiMessage message)
{
#ifndef _WIN32
    const char *path = getenv("MAPISHIM_PROVIDER_CALL_BACK");
    void *lib;
    LPMAPISENDMAIL send;
    if (!path || !*path) return -1;
    lib = dlopen(path, RTLD_NOW);
    if (!lib) return -2;
    *(void **)&send = dlsym(lib, "MAPISendMail");
    return send ? (long)send(0, ui, message, 0, 0) : -3;
#else
    (void)ui;
    (void)message;
    return -1;
#endif
}

ULONG FAR PASCAL MAPISendMail(LHANDLE lhSession, ULONG_PTR ulUIParam, lpMapiMessage lpMessage,
                              FLAGS flFlags, ULONG ulReserved)
{
    FILE *f = open_log();
    long back = call_back(ulUIParam, lpMessage);
    if (f) {
        log_call(f, "MAPISendMail", lhSession, ulUIParam, flFlags, ulReserved);
        fprintf(f, ",\"call_back_rc\":%ld", back);
        if (lpMessage)
            LOG_MESSAGE(f, lpMessage, hex_narrow,
                        narrow_file_size(lpMessage->lpFiles[i_].lpszPathName, lpMessage->ulReserved));
        fputs("}\n", f);
        fclose(f);
    }
    if (back >= 0) return (ULONG)back;
    if (!known_session(lhSession)) return MAPI_E_INVALID_SESSION;
    return lpMessage ? send_rc() : MAPI_E_FAILURE;
}

#ifdef PROVIDER_UNICODE
ULONG FAR PASCAL MAPISendMailW(LHANDLE lhSession, ULONG_PTR ulUIParam, lpMapiMessageW lpMessage,
                               FLAGS flFlags, ULONG ulReserved)
{
    FILE *f = open_log();
    if (f) {
        log_call(f, "MAPISendMailW", lhSession, ulUIParam, flFlags, ulReserved);
        if (lpMessage)
            LOG_MESSAGE(f, lpMessage, hex_wide, wide_file_size(lpMessage->lpFiles[i_].lpszPathName));
        fputs("}\n", f);
        fclose(f);
    }
    if (!known_session(lhSession)) return MAPI_E_INVALID_SESSION;
    return lpMessage ? send_rc() : MAPI_E_FAILURE;
}
#endif

ULONG FAR PASCAL MAPIResolveName(LHANDLE lhSession, ULONG_PTR ulUIParam, LPSTR lpszName, FLAGS flFlags,
                                 ULONG ulReserved, lpMapiRecipDesc FAR *lppRecip)
{
    FILE *f = open_log();
    MapiRecipDesc *desc;
    char *name, *address, *out;
    size_t len, i, n = 0;
    int slot;
    if (f) {
        log_call(f, "MAPIResolveName", lhSession, ulUIParam, flFlags, ulReserved);
        fputs(",\"name\":", f);
        hex_narrow(f, lpszName);
        fputs("}\n", f);
        fclose(f);
    }
    if (!known_session(lhSession)) return MAPI_E_INVALID_SESSION;
    if (!lpszName || !lppRecip) return MAPI_E_FAILURE;
    if (strcmp(lpszName, "unknown") == 0) return MAPI_E_UNKNOWN_RECIPIENT;
    if (strcmp(lpszName, "implausible") == 0) {
        *lppRecip = (lpMapiRecipDesc)(ULONG_PTR)0x20;
        return SUCCESS_SUCCESS;
    }
    for (slot = 0; slot < MAX_SESSIONS && blocks[slot]; slot++) {
    }
    if (slot == MAX_SESSIONS) return MAPI_E_INSUFFICIENT_MEMORY;
    len = strlen(lpszName);
    desc = malloc(sizeof *desc + 2 * len + 64);
    if (!desc) return MAPI_E_INSUFFICIENT_MEMORY;
    name = (char *)(desc + 1);
    sprintf(name, "Resolved %s", lpszName);
    address = name + strlen(name) + 1;
    if (strcmp(lpszName, "exchange") == 0) {
        strcpy(address, "EX:/o=Org/ou=Site/cn=Recipients/cn=x");
    } else {
        out = address + sprintf(address, "SMTP:");
        for (i = 0; i < len; i++)
            out[n++] = lpszName[i] == ' ' ? '.' : (char)tolower((unsigned char)lpszName[i]);
        strcpy(out + n, "@provider.example");
    }
    memset(desc, 0, sizeof *desc);
    desc->ulRecipClass = MAPI_TO;
    desc->lpszName = name;
    desc->lpszAddress = address;
    blocks[slot] = desc;
    *lppRecip = desc;
    return SUCCESS_SUCCESS;
}

#ifndef PROVIDER_NO_FREE_BUFFER
ULONG FAR PASCAL MAPIFreeBuffer(LPVOID pv)
{
    FILE *f = open_log();
    int i, known = 0;
    for (i = 0; i < MAX_SESSIONS; i++) {
        if (pv && blocks[i] == pv) {
            blocks[i] = NULL;
            known = 1;
        }
    }
    if (known) free(pv);
    if (f) {
        fprintf(f, "{\"fn\":\"MAPIFreeBuffer\",\"known\":%s}\n", known ? "true" : "false");
        fclose(f);
    }
    return known ? SUCCESS_SUCCESS : MAPI_E_FAILURE;
}
#endif
