/* Prints what a Windows binary's VERSIONINFO says, read the way Explorer and Windows
 * Installer read it: GetFileVersionInfo, then VerQueryValue for the fixed part and for the
 * U.S. English Unicode string table. Usage: version_info FILE. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    static const char *const keys[] = {"CompanyName", "FileDescription", "FileVersion",
                                       "OriginalFilename", "ProductName", "ProductVersion"};
    DWORD handle = 0, size;
    VS_FIXEDFILEINFO *fixed = NULL;
    UINT len = 0;
    char *data;
    size_t i;
    if (argc != 2) {
        fprintf(stderr, "usage: version_info FILE\n");
        return 2;
    }
    size = GetFileVersionInfoSizeA(argv[1], &handle);
    if (size == 0) {
        fprintf(stderr, "no version information (error %lu)\n", (unsigned long)GetLastError());
        return 1;
    }
    data = malloc(size);
    if (!data || !GetFileVersionInfoA(argv[1], 0, size, data)) return 1;
    if (!VerQueryValueA(data, "\\", (void **)&fixed, &len) || len < sizeof *fixed) return 1;
    printf("signature=%08lx\n", (unsigned long)fixed->dwSignature);
    printf("file_version=%lu.%lu.%lu.%lu\n", (unsigned long)HIWORD(fixed->dwFileVersionMS),
           (unsigned long)LOWORD(fixed->dwFileVersionMS), (unsigned long)HIWORD(fixed->dwFileVersionLS),
           (unsigned long)LOWORD(fixed->dwFileVersionLS));
    printf("file_type=%lu\n", (unsigned long)fixed->dwFileType);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char path[128];
        char *value = NULL;
        snprintf(path, sizeof path, "\\StringFileInfo\\040904b0\\%s", keys[i]);
        if (VerQueryValueA(data, path, (void **)&value, &len) && value) printf("%s=%s\n", keys[i], value);
    }
    free(data);
    return 0;
}
