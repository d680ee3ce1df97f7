/* staircase STEPS STEP_MiB PAUSE_MS: STEPS times, allocates STEP_MiB more (touching every page),
 * prints "holding N MiB" and waits PAUSE_MS milliseconds; then exits 0. Its memory use is a
 * staircase whose every step is named by the line printed on it: the report's memory samples
 * can be checked against the line they carry. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024UL * 1024UL)

static unsigned long parse_count(const char* text, const char* what) {
    char* end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v == 0) {
        fprintf(stderr, "staircase: %s must be a positive integer, got '%s'\n", what, text);
        exit(2);
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: staircase STEPS STEP_MiB PAUSE_MS\n");
        return 2;
    }
    unsigned long steps = parse_count(argv[1], "STEPS");
    unsigned long step = parse_count(argv[2], "STEP_MiB");
    unsigned long pause_ms = parse_count(argv[3], "PAUSE_MS");
    struct timespec pause = {(time_t)(pause_ms / 1000), (long)(pause_ms % 1000) * 1000000L};
    for (unsigned long k = 1; k <= steps; k++) {
        char* p = malloc(step * MIB);
        if (p == NULL) {
            fprintf(stderr, "staircase: malloc of %lu MiB failed at step %lu\n", step, k);
            return 3;
        }
        memset(p, 0x5a, step * MIB); /* touched and kept: the step stays in memory.usage */
        printf("holding %lu MiB\n", k * step);
        fflush(stdout);
        struct timespec left = pause;
        while (nanosleep(&left, &left) != 0 && errno == EINTR) {
        }
    }
    return 0;
}
