// with_fds FD[,FD...] PROGRAM [ARGS...]: opens /dev/null at each FD (inherited: not close-on-exec),
// then execs PROGRAM, as a careless caller leaves descriptors open in what it starts.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: with_fds FD[,FD...] PROGRAM [ARGS...]\n");
        return 2;
    }
    int null = open("/dev/null", O_RDONLY);
    if (null < 0) {
        perror("open /dev/null");
        return 1;
    }
    for (char* fd = strtok(argv[1], ","); fd; fd = strtok(NULL, ",")) {
        if (dup2(null, atoi(fd)) < 0) {
            perror("dup2");
            return 1;
        }
    }
    close(null);
    execvp(argv[2], argv + 2);
    perror("execvp");
    return 127;
}
