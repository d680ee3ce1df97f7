/* alloc MiB [step_MiB [hold_s]]: allocates MiB mebibytes in steps (default 8 MiB), touching every
 * page, and prints "allocated N MiB" after each step. Then holds it for hold_s seconds (default 0)
 * and exits 0.
 * Run under a small memory limit to get OOM-killed. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static unsigned long parse_count(const char* text, const char* what) {
    char* end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v == 0) {
        fprintf(stderr, "alloc: %s must be a positive integer, got '%s'\n", what, text);
        exit(2);
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: alloc MiB [step_MiB [hold_s]]\n");
        return 2;
    }
    unsigned long total = parse_count(argv[1], "MiB");
    unsigned long step = argc >= 3 ? parse_count(argv[2], "step_MiB") : 8;
    unsigned long hold_s = argc == 4 ? strtoul(argv[3], NULL, 10) : 0;
    unsigned long done = 0;
    while (done < total) {
        unsigned long n = total - done < step ? total - done : step;
        char* p = malloc(n * MIB);
        if (p == NULL) {
            fprintf(stderr, "alloc: malloc of %lu MiB failed after %lu MiB\n", n, done);
            return 3;
        }
        memset(p, 0x5a, n * MIB); /* touch every page; the block is kept (never freed) */
        done += n;
        printf("allocated %lu MiB\n", done);
        fflush(stdout);
    }
    printf("done: %lu MiB\n", done);
    fflush(stdout);
    if (hold_s > 0) sleep((unsigned)hold_s);
    return 0;
}
