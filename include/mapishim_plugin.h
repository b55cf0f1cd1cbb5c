/*
 * mapishim_plugin.h: the mapishim backend plugin ABI, version 1.
 *
 * A plugin is a shared library (.so, .dylib, .dll) that exports one function,
 * `mapishim_backend_v1`, returning a static table of functions. mapishim loads the
 * library named by `[plugin] library` in its configuration, checks the table, calls
 * `create` once with `[plugin.options]` as TOML text, and then `send`/`resolve` for
 * as long as that configuration is in use. See docs/plugins.md.
 *
 * Hand-written; crates/plugin/src/v1.rs (`mapishim_plugin::v1`) holds the same types for Rust, and the test
 * suite builds a C plugin against this header.
 *
 * Calling convention: plain C (`extern "C"`, the platform's default C convention) on
 * every platform, also 32-bit Windows: cdecl there, not WINAPI/stdcall. MAPISHIM_CALL
 * (__cdecl on Windows, empty elsewhere) marks every function pointer and the entry point,
 * so a plugin built with another default (MSVC /Gz) still matches the host; define your
 * functions with it too.
 *
 * Strings are UTF-8 and NUL-terminated. Return codes are Simple MAPI codes (mapi.h):
 * 0 = SUCCESS_SUCCESS; for example 2 MAPI_E_FAILURE, 14 MAPI_E_UNKNOWN_RECIPIENT,
 * 21 MAPI_E_AMBIGUOUS_RECIPIENT, 23 MAPI_E_NETWORK_FAILURE, 26 MAPI_E_NOT_SUPPORTED.
 * Other values (not Simple MAPI codes) reach the caller as MAPI_E_FAILURE.
 *
 * Versioning: `abi_version` changes only for incompatible changes, and then the entry
 * point gets a new name too (mapishim_backend_v2). Within version 1, fields are only
 * appended to the structs; each struct carries its size, so both sides read only the
 * fields they know. A host refuses a table whose abi_version is not 1 or whose
 * struct_size is smaller than the version-1 struct.
 *
 * Threading: create and destroy are called once each, destroy after every other call on
 * the state has returned. send, resolve and capabilities may be called from any thread,
 * concurrently, on the same state: the plugin synchronizes what it needs.
 *
 * Ownership: everything the host passes is owned by the host and valid only during the
 * call; copy what you keep. The plugin owns its state (freed in destroy) and its table
 * and name (static). The host never unloads the library: it stays mapped for the life of
 * the process, also after destroy, so threads the plugin leaves running keep their code.
 *
 * Error buffers: `error`, `error_len` is a host buffer of at least
 * MAPISHIM_MIN_BUFFER bytes. On failure, write a short NUL-terminated UTF-8 reason
 * (no secrets: it goes to the log); it may be truncated to fit. Leave it alone on
 * success.
 *
 * Unwinding: no C++ exception, Rust panic or longjmp may leave any of these functions.
 */
#ifndef MAPISHIM_PLUGIN_H
#define MAPISHIM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The calling convention of every function of the ABI (see above). */
#if defined(_WIN32)
#define MAPISHIM_CALL __cdecl
#else
#define MAPISHIM_CALL
#endif

#define MAPISHIM_BACKEND_ABI_VERSION 1u
#define MAPISHIM_BACKEND_ENTRY_POINT "mapishim_backend_v1"

/* capabilities() bits. */
#define MAPISHIM_CAP_SEND    0x1u /* send() delivers mail */
#define MAPISHIM_CAP_RESOLVE 0x2u /* resolve() answers names; may be NULL without it */

/* mapishim_envelope_v1.flags bits. */
#define MAPISHIM_ENVELOPE_DIALOG   0x1u /* the caller asked for a compose window (MAPI_DIALOG) */
#define MAPISHIM_ENVELOPE_MODELESS 0x2u /* ... and must not be blocked (MAPI_DIALOG_MODELESS) */

/* Every buffer the host passes has at least this many bytes. */
#define MAPISHIM_MIN_BUFFER 256u

/* The envelope of one message. */
struct mapishim_envelope_v1 {
    uint32_t struct_size;            /* sizeof(struct mapishim_envelope_v1) of the host */
    uint32_t flags;                  /* MAPISHIM_ENVELOPE_* */
    const char *from;                /* bare sender address: "user@example.org" */
    const char *const *recipients;   /* bare addresses: To, Cc and Bcc, each once;
                                        NULL when recipient_count is 0 */
    size_t recipient_count;
};

struct mapishim_backend_v1 {
    uint32_t abi_version;            /* MAPISHIM_BACKEND_ABI_VERSION */
    uint32_t struct_size;            /* sizeof(struct mapishim_backend_v1) */
    const char *name;                /* short name for logs, e.g. "archive" */

    /* Creates the plugin's state from `[plugin.options]` rendered as a TOML document
     * (`len` bytes, also NUL-terminated; empty when there are no options). Returns
     * NULL after writing a reason into `error` when the options are unusable. */
    void *(MAPISHIM_CALL *create)(const char *options_toml, size_t len, char *error, size_t error_len);

    /* Frees the state. Called once, when the configuration is replaced or the process
     * unloads mapishim. */
    void (MAPISHIM_CALL *destroy)(void *state);

    /* MAPISHIM_CAP_* bits; asked once, right after create. */
    uint32_t (MAPISHIM_CALL *capabilities)(void *state);

    /* Delivers one message: `message` is the complete RFC 5322 message (CRLF line ends,
     * MIME, attachments base64) WITHOUT a Bcc header; Bcc recipients appear only in the
     * envelope. Returns 0 when the message is safe (accepted or stored). */
    uint32_t (MAPISHIM_CALL *send)(void *state, const struct mapishim_envelope_v1 *envelope,
                     const uint8_t *message, size_t message_len, char *error,
                     size_t error_len);

    /* Resolves a name typed by a user (MAPIResolveName, or a recipient given by name).
     * On success, writes the display name (may be "") and the bare address and returns 0.
     * 26 (MAPI_E_NOT_SUPPORTED): "not mine", mapishim asks its vCard address book.
     * 14 (MAPI_E_UNKNOWN_RECIPIENT) / 21 (MAPI_E_AMBIGUOUS_RECIPIENT): final answers. */
    uint32_t (MAPISHIM_CALL *resolve)(void *state, const char *name_utf8, char *display_out,
                        size_t display_len, char *address_out, size_t address_len,
                        char *error, size_t error_len);
};

/* The one exported function. Returns a pointer to a static table (never freed). */
#if defined(_WIN32)
#define MAPISHIM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define MAPISHIM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif
typedef const struct mapishim_backend_v1 *(MAPISHIM_CALL *mapishim_backend_v1_fn)(void);
MAPISHIM_PLUGIN_EXPORT const struct mapishim_backend_v1 *MAPISHIM_CALL mapishim_backend_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* MAPISHIM_PLUGIN_H */
