/*
 * A backend plugin that calls Simple MAPI again from its own code, which the host must
 * refuse: from create (MAPIResolveName), send (MAPISendMail) or resolve (MAPIResolveName),
 * as chosen by MAPISHIM_REENTER. The nested call's code and how long it took are
 * appended to the file MAPISHIM_REENTER_OUT as `<where> rc=<code> ms=<milliseconds>`.
 * Linux only: the MAPI functions are those of the calling program's libmapi32.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <mapi.h>
#include <mapishim_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int mode_is(const char *where)
{
    const char *mode = getenv("MAPISHIM_REENTER");
    return mode && strcmp(mode, where) == 0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static void record(const char *where, ULONG rc, double ms)
{
    const char *path = getenv("MAPISHIM_REENTER_OUT");
    FILE *out = path ? fopen(path, "a") : NULL;
    if (!out) return;
    fprintf(out, "%s rc=%lu ms=%.1f\n", where, (unsigned long)rc, ms);
    fclose(out);
}

static void nested_resolve(const char *where)
{
    LPMAPIRESOLVENAME resolve_name = (LPMAPIRESOLVENAME)dlsym(RTLD_DEFAULT, "MAPIResolveName");
    lpMapiRecipDesc recip = NULL;
    double start = now_ms();
    ULONG rc = resolve_name ? resolve_name(0, 0, "Alice Martin", 0, 0, &recip) : 999;
    record(where, rc, now_ms() - start);
}

static void nested_send(void)
{
    LPMAPISENDMAIL send_mail = (LPMAPISENDMAIL)dlsym(RTLD_DEFAULT, "MAPISendMail");
    MapiRecipDesc r;
    MapiMessage m;
    double start;
    ULONG rc;
    memset(&r, 0, sizeof r);
    r.ulRecipClass = MAPI_TO;
    r.lpszAddress = "SMTP:nested@example.org";
    memset(&m, 0, sizeof m);
    m.lpszSubject = "nested";
    m.lpszNoteText = "from inside the plugin";
    m.nRecipCount = 1;
    m.lpRecips = &r;
    start = now_ms();
    rc = send_mail ? send_mail(0, 0, &m, 0, 0) : 999;
    record("send", rc, now_ms() - start);
}

static void *MAPISHIM_CALL create(const char *options_toml, size_t len, char *error, size_t error_len)
{
    (void)options_toml;
    (void)len;
    (void)error;
    (void)error_len;
    if (mode_is("create")) nested_resolve("create");
    return malloc(1);
}

static void MAPISHIM_CALL destroy(void *state)
{
    free(state);
}

static uint32_t MAPISHIM_CALL capabilities(void *state)
{
    (void)state;
    return MAPISHIM_CAP_SEND | MAPISHIM_CAP_RESOLVE;
}

static uint32_t MAPISHIM_CALL send_message(void *state, const struct mapishim_envelope_v1 *envelope,
                                           const uint8_t *message, size_t message_len,
                                           char *error, size_t error_len)
{
    (void)state;
    (void)envelope;
    (void)message;
    (void)message_len;
    (void)error;
    (void)error_len;
    if (mode_is("send")) nested_send();
    return 0;
}

static uint32_t MAPISHIM_CALL resolve(void *state, const char *name, char *display, size_t display_len,
                                      char *address, size_t address_len, char *error, size_t error_len)
{
    (void)state;
    (void)name;
    (void)display;
    (void)display_len;
    (void)address;
    (void)address_len;
    (void)error;
    (void)error_len;
    if (mode_is("resolve")) nested_resolve("resolve");
    return 26; /* MAPI_E_NOT_SUPPORTED: ask the address book */
}

static const struct mapishim_backend_v1 table = {
    MAPISHIM_BACKEND_ABI_VERSION, sizeof(struct mapishim_backend_v1), "c-reenter",
    create, destroy, capabilities, send_message, resolve,
};

const struct mapishim_backend_v1 *MAPISHIM_CALL mapishim_backend_v1(void)
{
    return &table;
}
