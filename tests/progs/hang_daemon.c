/* hang_daemon MARKER: a suite that never ends and does not go quietly.
 *  - ignores SIGTERM;
 *  - double-forks a daemon (fork, setsid, fork) that re-executes itself as
 *    "hang_daemon --daemon MARKER", ignores SIGTERM and sleeps forever;
 *  - forks a child that ignores SIGTERM and sleeps forever;
 *  - prints "collecting ..." and sleeps forever.
 * MARKER stays in every process's /proc/PID/cmdline so tests can find leftovers.
 * Only SIGKILL (or a cgroup kill) ends the tree. */
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

/* Detaches stdio like a well-behaved daemon. */
static void to_dev_null(void) {
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) return;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
}

static void exec_daemon(const char* argv0, const char* marker) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char* args[] = {(char*)argv0, "--daemon", (char*)marker, NULL};
        execv(self, args); /* SIGTERM stays ignored across exec */
    }
    sleep_forever(); /* could not re-exec: MARKER is still in the inherited argv */
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "--daemon") == 0) {
        signal(SIGTERM, SIG_IGN);
        sleep_forever();
    }
    if (argc != 2) {
        fprintf(stderr, "usage: hang_daemon MARKER\n");
        return 2;
    }
    signal(SIGTERM, SIG_IGN);
    fflush(stdout);

    pid_t mid = fork();
    if (mid < 0) {
        perror("hang_daemon: fork");
        return 3;
    }
    if (mid == 0) {
        setsid();
        pid_t daemon = fork();
        if (daemon < 0) _exit(3);
        if (daemon > 0) _exit(0);
        if (chdir("/") != 0) _exit(3);
        to_dev_null();
        exec_daemon(argv[0], argv[1]);
        _exit(3);
    }
    int status = 0;
    if (waitpid(mid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "hang_daemon: starting the daemon failed\n");
        return 3;
    }
    printf("daemon started\n");
    fflush(stdout);

    pid_t child = fork();
    if (child < 0) {
        perror("hang_daemon: fork");
        return 3;
    }
    if (child == 0) sleep_forever();
    printf("collecting ... (child %d)\n", (int)child);
    fflush(stdout);
    sleep_forever();
}
