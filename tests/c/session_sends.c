/*
 * Several MAPILogon sessions of one process sending in turns, for the per-session SMTP
 * connection test and the mid-session token refresh test:
 *
 *   session_sends SESSIONS ROUNDS PAUSE_MS TO
 *
 * Each round, every session sends one message with the subject "session S round R"; the
 * program sleeps PAUSE_MS between rounds. Prints "rc=N" and "ms=N" (how long the call
 * took, so that a bound can be checked without Wine's start-up time) per send.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#ifndef _WIN32
#include <time.h>
#endif

#define MAX_SESSIONS 8

static void pause_ms(unsigned long ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec t;
    t.tv_sec = (time_t)(ms / 1000);
    t.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
#endif
}

static unsigned long now_ms(void)
{
#ifdef _WIN32
    return (unsigned long)GetTickCount();
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long)t.tv_sec * 1000UL + (unsigned long)(t.tv_nsec / 1000000L);
#endif
}

int main(int argc, char **argv)
{
    LHANDLE sessions[MAX_SESSIONS];
    unsigned long n, rounds, pause, s, r;
    if (argc != 5 || !load_api()) {
        fprintf(stderr, "usage: session_sends SESSIONS ROUNDS PAUSE_MS TO\n");
        return 2;
    }
    n = strtoul(argv[1], NULL, 0);
    rounds = strtoul(argv[2], NULL, 0);
    pause = strtoul(argv[3], NULL, 0);
    if (n < 1 || n > MAX_SESSIONS) return 2;
    for (s = 0; s < n; s++) {
        ULONG rc = api.Logon(0, "profile", "secret", MAPI_NEW_SESSION, 0, &sessions[s]);
        printf("logon=%lu\n", (unsigned long)rc);
        if (rc != SUCCESS_SUCCESS) return 1;
    }
    for (r = 0; r < rounds; r++) {
        if (r > 0 && pause) pause_ms(pause);
        for (s = 0; s < n; s++) {
            char subject[64];
            MapiRecipDesc to;
            MapiMessage m;
            snprintf(subject, sizeof subject, "session %lu round %lu", s + 1, r + 1);
            init_recip(&to, MAPI_TO, NULL, argv[4]);
            init_message(&m, subject, "Hello.\r\n", 1, &to);
            {
                unsigned long started = now_ms();
                ULONG rc = api.SendMail(sessions[s], 0, &m, 0, 0);
                printf("rc=%lu\nms=%lu\n", (unsigned long)rc, now_ms() - started);
            }
            fflush(stdout);
        }
    }
    (void)make_file;
    (void)failures;
    for (s = 0; s < n; s++) printf("logoff=%lu\n", (unsigned long)api.Logoff(sessions[s], 0, 0, 0));
    return 0;
}
