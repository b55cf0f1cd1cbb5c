/*
 * A Windows stand-in for a composer (thunderbird.exe) or URL opener: appends its arguments,
 * UTF-8 and hex-encoded, as one JSON line to the file named by MAPISHIM_STANDIN_RECORD, so
 * a test can check exactly what the library started it with.
 */
#include <windows.h>
#include <shellapi.h>
#include <stdio.h>

int main(void)
{
    int argc, i;
    LPWSTR *argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    const char *record = getenv("MAPISHIM_STANDIN_RECORD");
    FILE *out;
    if (!argv || !record || !(out = fopen(record, "ab"))) return 3;
    fprintf(out, "{\"event\": \"started\", \"argv_hex\": [");
    for (i = 1; i < argc; i++) {
        char utf8[32768];
        int n = WideCharToMultiByte(CP_UTF8, 0, argv[i], -1, utf8, sizeof utf8, NULL, NULL), j;
        fprintf(out, "%s\"", i > 1 ? ", " : "");
        for (j = 0; j < n - 1; j++) fprintf(out, "%02x", (unsigned char)utf8[j]);
        fprintf(out, "\"");
    }
    fprintf(out, "]}\n");
    fclose(out);
    return 0;
}
