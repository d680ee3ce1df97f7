// cgroup path discovery and the small cgroupfs / procfs parsers.
#include <catch2/catch.hpp>

#include <sstream>

#include "corral/base/fd.hpp"
#include "corral/base/proc_stat.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/box/cgroup_util.hpp"
#include "corral/run/output.hpp"
#include "corral/run/procinfo.hpp"

using namespace corral;

TEST_CASE("parse /proc/self/cgroup of a hybrid system", "[cgroup_paths]") {
    auto pcs = parse_proc_cgroup(
        "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/bf4e\n2:cpu,cpuacct:/x y\n0::/\n");
    REQUIRE(pcs.size() == 5);
    CHECK(pcs[0].controllers == std::vector<std::string>{"name=systemd"});
    CHECK(pcs[2].id == 4);
    CHECK(pcs[2].path == "/process_api/bf4e");
    CHECK(pcs[3].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK(pcs[3].path == "/x y");
    CHECK(pcs[4].id == 0);
    CHECK(pcs[4].controllers.empty());
    CHECK(pcs[4].path == "/");
}

TEST_CASE("parse cgroup mounts from mountinfo", "[cgroup_paths]") {
    auto ms = parse_mountinfo_cgroups(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "35 31 0:32 /../.. /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory\n"
        "36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
        "41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n"
        "garbage line\n");
    REQUIRE(ms.size() == 3);
    CHECK(ms[0].root == "/../..");
    CHECK(ms[0].mountpoint == "/sys/fs/cgroup/memory");
    CHECK(ms[0].options == std::vector<std::string>{"rw", "memory"});
    CHECK_FALSE(ms[0].read_only);
    CHECK(ms[1].read_only);
    CHECK(ms[1].options == std::vector<std::string>{"rw", "cpu", "cpuacct"});
    CHECK(ms[2].fstype == "cgroup2");
    CHECK(ms[2].mountpoint == "/sys/fs/cgroup/uni fied");
}

TEST_CASE("map a cgroup path through the mount root", "[cgroup_paths]") {
    struct Row {
        std::string root, mountpoint, path;
        std::optional<std::string> want;
    };
    const Row rows[] = {
        {"/", "/sys/fs/cgroup/memory", "/process_api/x", "/sys/fs/cgroup/memory/process_api/x"},
        {"/", "/sys/fs/cgroup/pids", "/", "/sys/fs/cgroup/pids"},
        {"/process_api", "/mnt/mem", "/process_api/x", "/mnt/mem/x"},
        {"/process_api", "/mnt/mem", "/process_api", "/mnt/mem"},
        {"/process_api", "/mnt/mem", "/process_apix/y", std::nullopt},  // not a prefix component-wise
        {"/process_api", "/mnt/mem", "/other", std::nullopt},
        {"/../..", "/sys/fs/cgroup/memory", "/", std::nullopt},  // above the namespace: search
    };
    for (const auto& row : rows) {
        CgroupMount m;
        m.root = row.root;
        m.mountpoint = row.mountpoint;
        INFO(row.root << " " << row.path);
        CHECK(map_cgroup_path(m, row.path) == row.want);
    }
    CHECK(mount_root_ups("/../..") == 2);
    CHECK(mount_root_ups("/..") == 1);
    CHECK(mount_root_ups("/") == 0);
    CHECK(mount_root_ups("/a/..") == 0);
}

TEST_CASE("detect_layout finds this process's hierarchies", "[cgroup_paths]") {
    auto layout = detect_layout();
    // Every machine that runs corral's tests has cgroups mounted.
    REQUIRE(layout.mode != CgroupMode::None);
    for (const auto& h : layout.v1) CHECK(h.own_dir.rfind(h.mount.mountpoint, 0) == 0);
    if (layout.unified) CHECK(layout.unified->own_dir.rfind(layout.unified->mount.mountpoint, 0) == 0);
}

TEST_CASE("PSI text parses into averages and totals", "[cgroup_util]") {
    auto p = parse_pressure("some avg10=1.50 avg60=0.20 avg300=0.00 total=12345\n"
                            "full avg10=0.75 avg60=0.00 avg300=0.00 total=678\n");
    CHECK(p.some_avg10 == Approx(1.5));
    CHECK(p.full_avg10 == Approx(0.75));
    CHECK(p.some_total_us == 12345);
    CHECK(p.full_total_us == 678);
}

TEST_CASE("box directory names carry the run id", "[cgroup_util]") {
    CHECK(box_dir_name("unit", "1a2b3c4d") == "corral-unit-1a2b3c4d");
    CHECK(run_id_of_box("corral-unit-1a2b3c4d") == "1a2b3c4d");
    CHECK(run_id_of_box("corral-my-suite-1a2b3c4d") == "1a2b3c4d");
    CHECK(run_id_of_box("corral-") == "");
    CHECK(run_id_of_box("corral-launcher") == "");  // the v2 launcher leaf is not a box
    CHECK(run_id_of_box("other-x-1") == "");
}

TEST_CASE("/proc/PID/stat with spaces and parentheses in comm", "[procinfo]") {
    auto st = parse_proc_stat("4393 (my (odd) prog) S 4390 4393 4393 0 -1 4194560 95 0 0 0");
    REQUIRE(st);
    CHECK(st->pid == 4393);
    CHECK(st->comm == "my (odd) prog");
    CHECK(st->state == 'S');
    CHECK(st->ppid == 4390);
    CHECK(st->session == 4393);
    CHECK_FALSE(parse_proc_stat("garbage"));
}

TEST_CASE("/proc/PID/stat's start time is field 22 (starttime), not 21 (itrealvalue, always 0)", "[procinfo]") {
    // A line from proc(5)'s layout: fields 7 … 21 hold 7 … 21, 22 (starttime) holds 123456.
    std::string line = "77 (a b) S 1 77 77";
    for (int field = 7; field <= 21; ++field) line += " " + std::to_string(field);
    line += " 123456 4096 100";
    auto st = parse_proc_stat(line);
    REQUIRE(st);
    CHECK(st->start_ticks == 123456u);
    // This process's own: the 20th field after the comm's ')' (field 22 counted from the pid).
    const std::string self = read_file("/proc/self/stat");
    std::istringstream after(self.substr(self.rfind(')') + 1));
    std::string f;
    for (int field = 3; field <= 22; ++field) after >> f;
    auto me = parse_proc_stat(self);
    REQUIRE(me);
    CHECK(me->start_ticks == std::stoull(f));
    CHECK(me->start_ticks > 0);
}

TEST_CASE("read_proc_info of this process", "[procinfo]") {
    auto me = read_proc_info(::getpid());
    REQUIRE(me);
    CHECK(me->rss_bytes > 0);
    CHECK_THAT(me->cmdline, Catch::Contains("corral_unit_tests"));
    CHECK_FALSE(read_proc_info(0));
}

TEST_CASE("trim_line", "[output]") {
    CHECK(trim_line("  test_087 PASSED \r") == "test_087 PASSED");
    CHECK(trim_line(" \t ") == "");
}

TEST_CASE("status_says_dying: a pending SIGKILL or an exiting state", "[procinfo]") {
    const std::string running = "Name:\tsleep\nState:\tS (sleeping)\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n";
    CHECK_FALSE(status_says_dying(running));
    // An OOM victim: SIGKILL (9, bit 8) pending for the whole thread group.
    CHECK(status_says_dying("Name:\talloc\nState:\tR (running)\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\n"));
    CHECK(status_says_dying("Name:\talloc\nState:\tD (disk sleep)\nSigPnd:\t0000000000000100\nShdPnd:\t0000000000000000\n"));
    // SIGTERM (15, bit 14) pending is not dying: it may be caught or ignored.
    CHECK_FALSE(status_says_dying("Name:\tx\nState:\tS (sleeping)\nSigPnd:\t0000000000004000\nShdPnd:\t0000000000000000\n"));
    CHECK(status_says_dying("Name:\tx\nState:\tZ (zombie)\n"));
    CHECK(status_says_dying("Name:\tx\nState:\tX (dead)\n"));
}
