/*
 * A backend plugin written in C against include/mapishim_plugin.h: it accepts messages
 * with one recipient and refuses others with MAPI_E_TOO_MANY_RECIPIENTS (10). Built with
 * -DWRONG_VERSION it declares ABI version 2, which hosts must refuse. Built with
 * -DBACKGROUND_THREAD (POSIX) create starts a thread that runs plugin code forever, past
 * destroy, which the host must survive.
 */
#include <mapishim_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef BACKGROUND_THREAD
#include <pthread.h>
#include <time.h>

static void *background(void *arg)
{
    struct timespec tick = {0, 1000000};
    (void)arg;
    for (;;) nanosleep(&tick, NULL);
    return NULL;
}
#endif

#ifdef WRONG_VERSION
#define VERSION 2u
#else
#define VERSION MAPISHIM_BACKEND_ABI_VERSION
#endif

static void *MAPISHIM_CALL create(const char *options_toml, size_t len, char *error, size_t error_len)
{
    (void)options_toml;
    (void)len;
    (void)error;
    (void)error_len;
#ifdef BACKGROUND_THREAD
    {
        pthread_t thread;
        if (pthread_create(&thread, NULL, background, NULL) == 0) pthread_detach(thread);
    }
#endif
    return malloc(1);
}

static void MAPISHIM_CALL destroy(void *state)
{
    free(state);
}

static uint32_t MAPISHIM_CALL capabilities(void *state)
{
    (void)state;
    return MAPISHIM_CAP_SEND;
}

static uint32_t MAPISHIM_CALL send_message(void *state, const struct mapishim_envelope_v1 *envelope,
                                           const uint8_t *message, size_t message_len,
                                           char *error, size_t error_len)
{
    (void)state;
    (void)message;
    (void)message_len;
    if (envelope->recipient_count > 1) {
        snprintf(error, error_len, "at most one recipient, got %u (first %s)",
                 (unsigned)envelope->recipient_count, envelope->recipients[0]);
        return 10; /* MAPI_E_TOO_MANY_RECIPIENTS */
    }
    return 0;
}

static const struct mapishim_backend_v1 table = {
    VERSION, sizeof(struct mapishim_backend_v1), "c-refuser",
    create, destroy, capabilities, send_message, NULL,
};

const struct mapishim_backend_v1 *MAPISHIM_CALL mapishim_backend_v1(void)
{
    return &table;
}
