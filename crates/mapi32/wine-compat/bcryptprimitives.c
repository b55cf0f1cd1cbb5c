/*
 * bcryptprimitives.dll for Wine 8 and older.
 *
 * Rust's standard library (1.78+) gets random numbers from ProcessPrng in
 * bcryptprimitives.dll, which Wine added only in 9.0. Without this DLL, Wine 8 refuses to
 * load mapi32.dll at all. This forwarder provides that one function on top of
 * RtlGenRandom (advapi32's SystemFunction036), which every Wine version has.
 *
 * Not needed, and not to be installed, on Windows 10+ or Wine 9+.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
