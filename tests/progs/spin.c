/* spin SECONDS: burns CPU in a busy loop for SECONDS of wall-clock time (fractions allowed),
 * then prints how much CPU time it got and exits 0. Used to see a cpu quota throttle it. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    char* end = NULL;
    double secs = argc == 2 ? strtod(argv[1], &end) : 0;
    if (argc != 2 || end == argv[1] || *end != '\0' || secs <= 0) {
        fprintf(stderr, "usage: spin SECONDS\n");
        return 2;
    }
    double start = now(CLOCK_MONOTONIC);
    volatile unsigned long counter = 0;
    while (now(CLOCK_MONOTONIC) - start < secs) {
        for (int i = 0; i < 100000; i++) counter++;
    }
    double wall = now(CLOCK_MONOTONIC) - start;
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID);
    printf("spun %.2f s wall, %.2f s cpu (%.0f%%)\n", wall, cpu, 100.0 * cpu / wall);
    fflush(stdout);
    return 0;
}
