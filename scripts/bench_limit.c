/* The physical limit for scripts/bench: writes COUNT copies of FILE's bytes into DIR with
 * the outbox's durability steps and nothing else (no MIME, no attachment read): a
 * temporary file, one write, fsync, rename to NNNNNN.eml, fsync of the folder. Prints
 * seconds. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
    perror(what);
    fprintf(stderr, "bench_limit: %s\n", path);
    return 1;
}

int main(int argc, char **argv)
{
    struct timespec start, end;
    struct stat st;
    char *data, tmp[4096], final[4096];
    int i, n, fd, dir;
    size_t size, done;
    ssize_t got;
    if (argc != 4) {
        fprintf(stderr, "usage: bench_limit COUNT FILE DIR\n");
        return 2;
    }
    n = atoi(argv[1]);
    fd = open(argv[2], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0) return fail("open", argv[2]);
    size = (size_t)st.st_size;
    data = malloc(size ? size : 1);
    for (done = 0; done < size; done += (size_t)got) {
        got = read(fd, data + done, size - done);
        if (got <= 0) return fail("read", argv[2]);
    }
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < n; i++) {
        snprintf(tmp, sizeof tmp, "%s/.tmp-%06d", argv[3], i);
        snprintf(final, sizeof final, "%s/%06d.eml", argv[3], i);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) return fail("open", tmp);
        for (done = 0; done < size; done += (size_t)got) {
            got = write(fd, data + done, size - done);
            if (got <= 0) return fail("write", tmp);
        }
        if (fsync(fd) != 0) return fail("fsync", tmp);
        close(fd);
        if (rename(tmp, final) != 0) return fail("rename", final);
        dir = open(argv[3], O_RDONLY);
        if (dir < 0 || fsync(dir) != 0) return fail("fsync", argv[3]);
        close(dir);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%.6f\n", (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    free(data);
    return 0;
}
