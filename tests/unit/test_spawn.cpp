// The capability check behind the cgroup namespace: CapEff of /proc/PID/status.
#include <catch2/catch.hpp>

#include "corral/run/spawn.hpp"

using namespace corral;

TEST_CASE("CAP_SYS_ADMIN is read from the CapEff line of /proc/PID/status", "[spawn]") {
    // root on this host, and an unprivileged user (setpriv --reuid 1000), as the kernel prints them.
    CHECK(status_has_cap_sys_admin("Name:\tcorral\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
                                   "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n") == true);
    CHECK(status_has_cap_sys_admin("Name:\tcorral\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n") == false);
    // Everything but CAP_SYS_ADMIN (bit 21), and only CAP_SYS_ADMIN.
    CHECK(status_has_cap_sys_admin("CapEff:\t000001ffffdfffff\n") == false);
    CHECK(status_has_cap_sys_admin("CapEff:\t0000000000200000") == true);
    // CapBnd having it is not enough; no CapEff line, or a garbled one, is "unknown".
    CHECK(status_has_cap_sys_admin("CapBnd:\t000001ffffffffff\n") == std::nullopt);
    CHECK(status_has_cap_sys_admin("CapEff:\tzz\n") == std::nullopt);
    CHECK(status_has_cap_sys_admin("CapEff:\t\n") == std::nullopt);
    CHECK(status_has_cap_sys_admin("") == std::nullopt);
}
