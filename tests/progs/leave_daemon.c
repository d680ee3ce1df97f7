/* leave_daemon MARKER: double-forks a daemon (fork, setsid, fork) that re-executes itself as
 * "leave_daemon --daemon MARKER" and sleeps forever (SIGTERM ends it), then prints "done" and
 * exits 0 at once: a suite that passes but leaves a process behind. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void sleep_forever(void) {
    for (;;) pause();
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "--daemon") == 0) sleep_forever();
    if (argc != 2) {
        fprintf(stderr, "usage: leave_daemon MARKER\n");
        return 2;
    }
    fflush(stdout);
    pid_t mid = fork();
    if (mid < 0) {
        perror("leave_daemon: fork");
        return 3;
    }
    if (mid == 0) {
        setsid();
        pid_t daemon = fork();
        if (daemon < 0) _exit(3);
        if (daemon > 0) _exit(0);
        if (chdir("/") != 0) _exit(3);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2) close(fd);
        }
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            char* args[] = {argv[0], "--daemon", argv[1], NULL};
            execv(self, args);
        }
        sleep_forever(); /* MARKER is still in the inherited argv */
    }
    int status = 0;
    if (waitpid(mid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "leave_daemon: starting the daemon failed\n");
        return 3;
    }
    printf("done\n");
    fflush(stdout);
    return 0;
}
