// uffd_block: a process in uninterruptible sleep that no freezer can freeze, until SIGKILL. It ignores
// SIGTERM, registers a userfaultfd range nobody serves and write()s from it: the kernel's copy from
// that memory faults in kernel mode and waits TASK_KILLABLE (state D, not freezable) for a fault
// handler that never comes. Needs root (vm.unprivileged_userfaultfd=0).
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    signal(SIGTERM, SIG_IGN);
    long page = sysconf(_SC_PAGESIZE);
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0) {
        perror("userfaultfd");
        return 1;
    }
    struct uffdio_api api = {.api = UFFD_API};
    if (ioctl(uffd, UFFDIO_API, &api) < 0) {
        perror("UFFDIO_API");
        return 1;
    }
    char* area = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    struct uffdio_register reg = {.range = {.start = (unsigned long)area, .len = (unsigned long)page},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
        perror("UFFDIO_REGISTER");
        return 1;
    }
    int p[2];
    if (pipe(p) < 0) {
        perror("pipe");
        return 1;
    }
    printf("blocking\n");
    fflush(stdout);
    // Never returns: the pipe's write copies from the unpopulated page.
    (void)!write(p[1], area, (size_t)page);
    printf("unblocked?\n");
    return 2;
}
