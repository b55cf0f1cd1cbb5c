/* The SMTP limit for scripts/bench: COUNT messages over one connection to 127.0.0.1:PORT
 * with the exchange mapishim uses against a server offering PIPELINING, and nothing else
 * (no MIME, no attachment read, no validation): MAIL FROM, RCPT TO and DATA in one write,
 * their three replies, then FILE's bytes (dot-stuffed once, up front) and the final "."
 * in one write, and its reply. Two round trips per message, which is the minimum without
 * CHUNKING. Prints seconds. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int sock;
static char buf[8192];
static size_t have, used;

static int fail(const char *what)
{
    perror(what);
    return 1;
}

/* Reads replies until `count` final lines ("ddd " at the start) have come; 0 when every
 * one was positive (2xx or 3xx). */
static int replies(int count)
{
    int bad = 0;
    while (count > 0) {
        char *nl = memchr(buf + used, '\n', have - used);
        if (!nl) {
            ssize_t got;
            memmove(buf, buf + used, have - used);
            have -= used;
            used = 0;
            if (have == sizeof buf) return -1;
            got = recv(sock, buf + have, sizeof buf - have, 0);
            if (got <= 0) return -1;
            have += (size_t)got;
            continue;
        }
        if (nl - (buf + used) >= 4 && buf[used + 3] == ' ') {
            if (buf[used] != '2' && buf[used] != '3') bad = 1;
            count--;
        }
        used = (size_t)(nl - buf) + 1;
    }
    return bad ? -1 : 0;
}

static int send_all(const char *data, size_t size)
{
    while (size > 0) {
        ssize_t put = send(sock, data, size, MSG_NOSIGNAL);
        if (put <= 0) return -1;
        data += put;
        size -= (size_t)put;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char envelope[] = "MAIL FROM:<config@example.org>\r\nRCPT TO:<bench@example.org>\r\nDATA\r\n";
    static const char ehlo[] = "EHLO bench\r\n";
    struct sockaddr_in addr;
    struct timespec start, end;
    struct stat st;
    FILE *f;
    char *raw, *content;
    size_t size, i, len = 0;
    int n, k;
    if (argc != 4) {
        fprintf(stderr, "usage: bench_smtp_limit PORT COUNT FILE\n");
        return 2;
    }
    n = atoi(argv[2]);
    f = fopen(argv[3], "rb");
    if (!f || fstat(fileno(f), &st) != 0) return fail(argv[3]);
    size = (size_t)st.st_size;
    raw = malloc(size + 1);
    content = malloc(2 * size + 8);
    if (!raw || !content || fread(raw, 1, size, f) != size) return fail("read");
    fclose(f);
    for (i = 0; i < size; i++) {
        if (raw[i] == '.' && (i == 0 || raw[i - 1] == '\n')) content[len++] = '.';
        content[len++] = raw[i];
    }
    if (len < 2 || content[len - 2] != '\r' || content[len - 1] != '\n') {
        content[len++] = '\r';
        content[len++] = '\n';
    }
    memcpy(content + len, ".\r\n", 3);
    len += 3;

    clock_gettime(CLOCK_MONOTONIC, &start);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sock = socket(AF_INET, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) return fail("connect");
    if (replies(1) != 0 || send_all(ehlo, sizeof ehlo - 1) != 0 || replies(1) != 0) return fail("greeting");
    for (k = 0; k < n; k++) {
        if (send_all(envelope, sizeof envelope - 1) != 0 || replies(3) != 0) return fail("envelope");
        if (send_all(content, len) != 0 || replies(1) != 0) return fail("content");
    }
    send_all("QUIT\r\n", 6);
    replies(1);
    close(sock);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%.6f\n", (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    return 0;
}
