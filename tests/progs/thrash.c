/* thrash FILE MiB SECONDS: makes FILE (MiB mebibytes, on a disk-backed filesystem) and, for SECONDS,
 * maps it and reads every page over and over. Under a memory limit smaller than the file, every pass
 * evicts and refaults the whole file: the suite spends its time stalled on memory (PSI "full"),
 * which is what thrashing looks like. Prints "pass N" after each pass; exits 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: thrash FILE MiB SECONDS\n");
        return 2;
    }
    unsigned long mib = strtoul(argv[2], NULL, 10);
    double seconds = atof(argv[3]);
    if (mib == 0 || seconds <= 0) {
        fprintf(stderr, "thrash: MiB and SECONDS must be positive\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    static char block[MIB];
    for (unsigned long i = 0; i < MIB; ++i) block[i] = (char)(i * 7);
    for (unsigned long i = 0; i < mib; ++i)
        if (pwrite(fd, block, MIB, (off_t)(i * MIB)) != (ssize_t)MIB) {
            perror("pwrite");
            return 1;
        }
    fsync(fd);
    size_t size = mib * MIB;
    volatile unsigned char* p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    double end = now() + seconds;
    unsigned long sum = 0;
    for (int pass = 1; now() < end; ++pass) {
        for (size_t off = 0; off < size; off += 4096) sum += p[off];
        printf("pass %d\n", pass);
        fflush(stdout);
    }
    return sum == 42 ? 3 : 0;
}
