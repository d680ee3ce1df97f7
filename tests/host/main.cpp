// Host tier entry point: refuses to run (with the reason) where real cgroups cannot be used,
// except when listing tests, so that ctest discovery works anywhere.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "harness.hpp"

namespace {

bool only_listing(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.rfind("--list", 0) == 0 || a == "-l" || a == "-h" || a == "--help" || a == "-?") return true;
    }
    return false;
}

// 0 to go on; otherwise the exit status, after saying why.
int host_gate() {
    const char* skip = std::getenv("CORRAL_SKIP_HOST_TESTS");
    if (skip != nullptr && std::string_view(skip) == "1") {
        std::printf("corral-test-tier skipped: host tier disabled by CORRAL_SKIP_HOST_TESTS=1\n");
        return 77;
    }
    if (::geteuid() != 0) {
        std::fprintf(stderr,
                     "host tier needs root (real cgroups): run as root or set CORRAL_SKIP_HOST_TESTS=1\n");
        return 1;
    }
    if (std::string why = host::host_problem(); !why.empty()) {
        std::fprintf(stderr, "host tier cannot run: /sys/fs/cgroup is not a writable cgroup mount: %s\n",
                     why.c_str());
        return 1;
    }
    if (::access(host::corral_bin().c_str(), X_OK) != 0) {
        std::fprintf(stderr, "host tier cannot run: corral binary %s is missing or not executable\n",
                     host::corral_bin().c_str());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (!only_listing(argc, argv)) {
        if (int status = host_gate(); status != 0) return status;
    }
    return Catch::Session().run(argc, argv);
}
