/* chatter SECONDS INTERVAL_MS: prints a 4 KiB line ("line 000001 " and 3-byte UTF-8 characters)
 * every INTERVAL_MS milliseconds for SECONDS seconds of wall-clock time, then exits 0. Used to see
 * that the report keeps a bounded, cut copy of the lines a long chatty suite prints. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINE_BYTES 4096

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    char* end1 = NULL;
    char* end2 = NULL;
    double secs = argc == 3 ? strtod(argv[1], &end1) : 0;
    long interval_ms = argc == 3 ? strtol(argv[2], &end2, 10) : 0;
    if (argc != 3 || end1 == argv[1] || *end1 != '\0' || secs <= 0 || end2 == argv[2] || *end2 != '\0' ||
        interval_ms <= 0) {
        fprintf(stderr, "usage: chatter SECONDS INTERVAL_MS\n");
        return 2;
    }
    /* "line NNNNNN " (12 bytes), then U+20AC (E2 82 AC) up to 4092 bytes, then the newline. */
    static char line[LINE_BYTES];
    size_t len = 12;
    while (len + 3 <= LINE_BYTES - 4) {
        memcpy(line + len, "\xE2\x82\xAC", 3);
        len += 3;
    }
    line[len++] = '\n';
    struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
    double start = now();
    for (unsigned long n = 1; now() - start < secs; n++) {
        char head[16];
        snprintf(head, sizeof head, "line %06lu ", n % 1000000);
        memcpy(line, head, 12);
        fwrite(line, 1, len, stdout);
        fflush(stdout);
        nanosleep(&pause, NULL);
    }
    return 0;
}
