/* forkflood N: tries to fork N children that each wait in pause(). Counts refused forks (EAGAIN,
 * as under a pids limit), prints "forked X, refused Y", kills and reaps its children, and exits 0
 * when at least one fork was refused, 1 when all N succeeded. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
    char* end = NULL;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || end == argv[1] || *end != '\0' || n <= 0 || n > 100000) {
        fprintf(stderr, "usage: forkflood N (1..100000)\n");
        return 2;
    }
    pid_t* kids = calloc((size_t)n, sizeof *kids);
    if (kids == NULL) {
        perror("forkflood: calloc");
        return 3;
    }
    long forked = 0, refused = 0, other = 0;
    int other_errno = 0;
    fflush(stdout);
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;) pause();
        }
        if (pid > 0) {
            kids[forked++] = pid;
        } else if (errno == EAGAIN) {
            refused++;
        } else {
            other++;
            other_errno = errno;
        }
    }
    printf("forked %ld, refused %ld\n", forked, refused);
    if (other > 0) printf("other fork errors: %ld (last: %s)\n", other, strerror(other_errno));
    fflush(stdout);
    for (long i = 0; i < forked; i++) kill(kids[i], SIGKILL);
    for (long i = 0; i < forked; i++) waitpid(kids[i], NULL, 0);
    free(kids);
    return refused > 0 ? 0 : 1;
}
