/*
 * A `password_command` for the bounded-command tests, on Linux and as a Windows program
 * under Wine (where the library stops it through a job object, not a process group):
 *
 *   secret_helper hang MARKER   starts a child that writes MARKER after 5 s, then sleeps
 *                               20 s: a command that hangs with a process tree under it
 *   secret_helper empty         prints nothing and exits 0
 *   secret_helper fail          prints "nope" on stderr and exits 4
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#define sleep_s(n) Sleep((DWORD)(n) * 1000)
#else
#include <unistd.h>
#define sleep_s(n) sleep(n)
#endif

static int child(const char *marker)
{
    FILE *f;
    sleep_s(5);
    f = fopen(marker, "w");
    if (f) fclose(f);
    return 0;
}

static int start_child(const char *self, const char *marker)
{
#ifdef _WIN32
    char line[2048];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    snprintf(line, sizeof line, "\"%s\" child \"%s\"", self, marker);
    if (!CreateProcessA(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return -1;
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return 0;
#else
    pid_t pid = fork();
    (void)self;
    if (pid < 0) return -1;
    if (pid == 0) _exit(child(marker));
    return 0;
#endif
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hang") == 0) {
        if (start_child(argv[0], argv[2]) != 0) return 1;
        sleep_s(20);
        puts("too late");
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
    if (argc == 2 && strcmp(argv[1], "empty") == 0) return 0;
    if (argc == 2 && strcmp(argv[1], "fail") == 0) {
        fputs("nope\n", stderr);
        return 4;
    }
    fputs("usage: secret_helper hang MARKER | empty | fail\n", stderr);
    return 2;
}
