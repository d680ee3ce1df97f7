// term_clock: prints "start NS" (CLOCK_MONOTONIC) when it starts and "term NS" when SIGTERM comes, then
// exits 0; otherwise waits forever. How late a timeout's SIGTERM came is term - start - timeout.
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_term(int sig) {
    (void)sig;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "term %lld\n", now_ns());
    (void)!write(1, buf, (size_t)n);
    _exit(0);
}

int main(void) {
    signal(SIGTERM, on_term);
    printf("start %lld\n", now_ns());
    fflush(stdout);
    for (;;) pause();
}
