// This process's resident memory, for the unit tests that bound what a structure keeps.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <string>

namespace corral::test {

// VmRSS of this process in bytes.
inline std::uint64_t vm_rss() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    FAIL("no VmRSS in /proc/self/status");
    return 0;
}

}  // namespace corral::test
