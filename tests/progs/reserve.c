/* reserve RESERVE_GiB TOUCH_MiB: maps RESERVE_GiB gibibytes with MAP_NORESERVE (address space only,
 * as sanitizers and JIT runtimes do) and touches the first TOUCH_MiB mebibytes. Only touched pages
 * are charged to a memory cgroup, so this passes under a limit far below the reservation. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1024UL * 1024UL)
#define GIB (1024UL * MIB)

static unsigned long parse_count(const char* text, const char* what) {
    char* end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0') {
        fprintf(stderr, "reserve: %s must be a non-negative integer, got '%s'\n", what, text);
        exit(2);
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: reserve RESERVE_GiB TOUCH_MiB\n");
        return 2;
    }
    unsigned long reserve = parse_count(argv[1], "RESERVE_GiB");
    unsigned long touch = parse_count(argv[2], "TOUCH_MiB");
    if (reserve == 0 || touch > reserve * 1024) {
        fprintf(stderr, "reserve: need 0 < TOUCH_MiB <= RESERVE_GiB*1024\n");
        return 2;
    }
    char* p =
        mmap(NULL, reserve * GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("reserve: mmap");
        return 3;
    }
    printf("reserved %lu GiB\n", reserve);
    fflush(stdout);
    for (unsigned long done = 0; done < touch;) {
        unsigned long n = touch - done < 50 ? touch - done : 50;
        memset(p + done * MIB, 0x5a, n * MIB);
        done += n;
        printf("touched %lu MiB\n", done);
        fflush(stdout);
    }
    printf("done: reserved %lu GiB, touched %lu MiB\n", reserve, touch);
    fflush(stdout);
    return 0;
}
