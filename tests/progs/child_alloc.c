/* child_alloc MiB [step_MiB]: forks a child that allocates MiB mebibytes in steps (default 8 MiB),
 * touching every page, so that the child and not this process is the OOM victim. Waits for it and
 * reports how it ended. Exits with the child's exit status, or 1 when the child was killed. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static unsigned long parse_count(const char* text, const char* what) {
    char* end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v == 0) {
        fprintf(stderr, "child_alloc: %s must be a positive integer, got '%s'\n", what, text);
        exit(2);
    }
    return v;
}

static int allocate(unsigned long total, unsigned long step) {
    unsigned long done = 0;
    while (done < total) {
        unsigned long n = total - done < step ? total - done : step;
        char* p = malloc(n * MIB);
        if (p == NULL) {
            fprintf(stderr, "child_alloc: malloc of %lu MiB failed after %lu MiB\n", n, done);
            return 3;
        }
        memset(p, 0x5a, n * MIB);
        done += n;
        printf("child allocated %lu MiB\n", done);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: child_alloc MiB [step_MiB]\n");
        return 2;
    }
    unsigned long total = parse_count(argv[1], "MiB");
    unsigned long step = argc == 3 ? parse_count(argv[2], "step_MiB") : 8;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("child_alloc: fork");
        return 3;
    }
    if (pid == 0) _exit(allocate(total, step));
    printf("started child %d\n", (int)pid);
    fflush(stdout);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) {
        perror("child_alloc: waitpid");
        return 3;
    }
    if (WIFSIGNALED(status)) {
        printf("child killed by signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
        fflush(stdout);
        return 1;
    }
    printf("child exited %d\n", WEXITSTATUS(status));
    fflush(stdout);
    return WEXITSTATUS(status);
}
