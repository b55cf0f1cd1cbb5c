/* Benchmark driver for scripts/bench: N x MAPISendMail with one attachment; prints seconds.
 * With a third argument "session", the sends go through one MAPILogon session. */
#define _POSIX_C_SOURCE 199309L
#include <mapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    MapiRecipDesc to;
    MapiFileDesc file;
    MapiMessage m;
    struct timespec start, end;
    int i, n;
    LHANDLE session = 0;
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: bench_send COUNT FILE [session]\n");
        return 2;
    }
    n = atoi(argv[1]);
    memset(&to, 0, sizeof to);
    to.ulRecipClass = MAPI_TO;
    to.lpszAddress = "SMTP:bench@example.org";
    memset(&file, 0, sizeof file);
    file.lpszPathName = argv[2];
    file.lpszFileName = "attachment.bin";
    file.nPosition = (ULONG)-1;
    memset(&m, 0, sizeof m);
    m.lpszSubject = "benchmark";
    m.lpszNoteText = "Benchmark message.\n";
    m.nRecipCount = 1;
    m.lpRecips = &to;
    m.nFileCount = 1;
    m.lpFiles = &file;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (argc == 4 && MAPILogon(0, NULL, NULL, MAPI_NEW_SESSION, 0, &session) != SUCCESS_SUCCESS) return 1;
    for (i = 0; i < n; i++) {
        ULONG rc = MAPISendMail(session, 0, &m, 0, 0);
        if (rc != SUCCESS_SUCCESS) {
            fprintf(stderr, "MAPISendMail: %lu\n", (unsigned long)rc);
            return 1;
        }
    }
    if (session) MAPILogoff(session, 0, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%.6f\n", (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    return 0;
}
