/* oomstorm KILLS MiB [delay_ms]: a mutation-runner-like OOM storm. After delay_ms (default 0) it
 * forks a worker per "mutation"; each worker raises its own oom_score_adj to 1000 (so that the kernel
 * picks a worker, not this runner), allocates MiB mebibytes touching every page, and lingers. Under a
 * memory limit the kernel OOM-kills worker after worker; the runner goes on until KILLS workers were
 * killed (at most 60 s), prints "killed N workers" and exits 0.
 * KILLS 0: no workers; this process itself allocates MiB after delay_ms (to be OOM-killed once). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static void touch(unsigned long mib) {
    char* p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("oomstorm: mmap");
        _exit(3);
    }
    for (unsigned long i = 0; i < mib * MIB; i += 4096) p[i] = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: oomstorm KILLS MiB [delay_ms]\n");
        return 2;
    }
    long kills_wanted = strtol(argv[1], NULL, 10);
    unsigned long mib = strtoul(argv[2], NULL, 10);
    long delay_ms = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
    if (kills_wanted < 0 || mib == 0 || delay_ms < 0) {
        fprintf(stderr, "oomstorm: KILLS >= 0, MiB > 0 and delay_ms >= 0 expected\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (delay_ms > 0) usleep((useconds_t)delay_ms * 1000);
    if (kills_wanted == 0) {
        printf("allocating %lu MiB\n", mib);
        touch(mib);
        printf("allocated %lu MiB\n", mib);
        return 0;
    }
    long killed = 0, started = 0;
    const double t0 = now_s();
    while (killed < kills_wanted && now_s() - t0 < 60) {
        pid_t pid = fork();
        if (pid < 0) {
            if (errno == EAGAIN || errno == ENOMEM) {
                usleep(1000);
            } else {
                perror("oomstorm: fork");
                return 3;
            }
        } else if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  /* the lingering workers end with the runner */
            int fd = open("/proc/self/oom_score_adj", O_WRONLY);
            if (fd >= 0) {
                if (write(fd, "1000", 4) < 0) perror("oomstorm: oom_score_adj");
                close(fd);
            }
            touch(mib);
            for (;;) pause();  /* lingers, as a runner's idle worker */
        } else {
            ++started;
            printf("mutation %ld started\n", started);
        }
        int status;
        pid_t w;
        while ((w = waitpid(-1, &status, WNOHANG)) > 0)
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed;
    }
    printf("killed %ld workers of %ld\n", killed, started);
    return 0;
}
