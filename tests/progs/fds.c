// fds: prints the numbers of this process's open file descriptors, one a line, in order (the
// directory stream used to list them is left out).
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

int main(void) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) {
        perror("opendir /proc/self/fd");
        return 1;
    }
    int own = dirfd(d), fds[4096], n = 0;
    struct dirent* e;
    while ((e = readdir(d)) && n < 4096) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd != own) fds[n++] = fd;
    }
    closedir(d);
    qsort(fds, (size_t)n, sizeof fds[0], cmp);
    for (int i = 0; i < n; ++i) printf("%d\n", fds[i]);
    return 0;
}
