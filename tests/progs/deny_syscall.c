// deny_syscall NAME[,NAME…] ERRNO PROGRAM [ARGS...]: runs PROGRAM under a seccomp filter that answers
// those system calls with -ERRNO (as a container's seccomp profile can), every other call allowed.
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: deny_syscall NAME[,NAME...] ERRNO PROGRAM [ARGS...]\n");
        return 2;
    }
    int err = atoi(argv[2]);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        fprintf(stderr, "seccomp_init failed\n");
        return 1;
    }
    for (char* name = strtok(argv[1], ","); name; name = strtok(NULL, ",")) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) {
            fprintf(stderr, "deny_syscall: unknown system call '%s'\n", name);
            return 2;
        }
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)err), nr, 0) < 0) {
            fprintf(stderr, "deny_syscall: seccomp_rule_add %s failed\n", name);
            return 1;
        }
    }
    if (seccomp_load(ctx) < 0) {
        fprintf(stderr, "deny_syscall: seccomp_load failed\n");
        return 1;
    }
    seccomp_release(ctx);
    execvp(argv[3], argv + 3);
    perror("execvp");
    return 127;
}
