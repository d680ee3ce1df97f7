// Host tier: limits enforced by real cgroups — memory, tasks, cpu.
#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>

#include "harness.hpp"

using namespace host;

TEST_CASE("memory.max 64M OOM-kills a 512 MiB allocation", "[host][memory]") {
    HostCase hc;
    TempDir reports("oom");
    auto r = run_corral(adhoc(reports.path(), {"--name", "oom", "--memory-max", "64M", "--timeout", "60s"},
                              {prog("alloc"), "512"}));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    CHECK(str(report, "/schema") == "corral-report/1");
    const std::string backend = str(report, "/backend");
    CHECK((backend == "cgroup-v1" || backend == "cgroup-v2" || backend == "systemd-scope"));

    const Json& s = suite(report, "oom");
    CHECK(str(s, "/verdict") == "oom-killed");
    CHECK(num(s, "/oom/kills") >= 1);
    CHECK(str(s, "/signal") == "SIGKILL");
    CHECK(field(s, "/exit_code").is_null());
    CHECK(num(s, "/limits/memory_max_bytes") == 64.0 * kMiB);
    const double peak = num(s, "/memory/peak_bytes");
    CHECK(peak >= 0.9 * 64 * kMiB);
    CHECK(peak <= 64.0 * kMiB + 2.0 * kMiB);
    CHECK_THAT(str(s, "/explanation"), Catch::Contains("memory.max"));
    CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("allocated 8 MiB"));
    // The kernel's own record of the kill, attributed to this suite.
    REQUIRE(field(s, "/oom/records").size() >= 1);
    CHECK(str(s, "/oom/records/0/victim/comm") == "alloc");
    CHECK(str(s, "/oom/records/0/whose_limit") == "own");
    // The highest sample (the run is shorter than a sample interval: it may be the first) with its
    // anon/file split; test_pressure checks the split on a long run.
    CHECK(num(s, "/memory/peak_sample/bytes") <= peak);
    CHECK(field(s, "/memory/peak_sample/anon_bytes").is_number());
    if (backend == "cgroup-v2") {
        CHECK(str(s, "/memory/peak_source") == "memory.peak");
        CHECK(num(s, "/memory/events/oom_kill") >= 1);
        CHECK(num(s, "/memory/events/max") >= 1);
        CHECK(num(s, "/memory/events_local/oom_kill") >= 1);
        CHECK(str(s, "/start_method") == "clone3-into-cgroup");
        CHECK(field(s, "/cpu/stat/usage_usec").is_number());
    } else if (backend == "cgroup-v1") {
        CHECK(str(s, "/memory/peak_source") == "memory.max_usage_in_bytes");
        CHECK(field(s, "/memory/events").is_null());
        CHECK(str(s, "/start_method") == "cgroup.procs");
    }
    hc.finish();
}

TEST_CASE("an OOM kill of a child is oom-killed even though the main process exits 1", "[host][memory]") {
    HostCase hc;
    TempDir reports("child-oom");
    auto r =
        run_corral(adhoc(reports.path(), {"--name", "child-oom", "--memory-max", "64M", "--timeout", "60s"},
                         {prog("child_alloc"), "512"}));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "child-oom");
    CHECK(str(s, "/verdict") == "oom-killed");
    CHECK(num(s, "/oom/kills") >= 1);
    CHECK(num(s, "/exit_code") == 1);  // the main process survived and reported its child's death
    CHECK_THAT(str(s, "/explanation"), Catch::Contains("memory.max"));
    CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("child killed by signal 9"));
    hc.finish();
}

TEST_CASE("reserving 16 GiB with MAP_NORESERVE and touching 300 MiB passes under memory.max 1G",
          "[host][memory]") {
    HostCase hc;
    TempDir reports("reserve");
    auto r = run_corral(adhoc(reports.path(), {"--name", "reserve", "--memory-max", "1G", "--timeout", "60s"},
                              {prog("reserve"), "16", "300"}));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "reserve");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(num(s, "/exit_code") == 0);
    CHECK(num(s, "/oom/kills") == 0);
    const double peak = num(s, "/memory/peak_bytes");
    CHECK(peak >= 300.0 * kMiB);
    CHECK(peak <= 1024.0 * kMiB);
    CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("touched 300 MiB"));
    hc.finish();
}

TEST_CASE("tasks-max 20 refuses forks of a fork flood and counts the hits", "[host][tasks]") {
    HostCase hc;
    TempDir reports("forkflood");
    auto r = run_corral(
        adhoc(reports.path(),
              {"--name", "forkflood", "--memory-max", "256M", "--tasks-max", "20", "--timeout", "60s"},
              {prog("forkflood"), "200"}));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "forkflood");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(num(s, "/limits/tasks_max") == 20);
    CHECK(num(s, "/tasks/limit_hits") > 0);
    if (str(report, "/backend") == "cgroup-v2") CHECK(num(s, "/tasks/events/max") > 0);

    const std::string out = suite_stdout(s, reports.path());
    INFO("suite stdout: " << out);
    long forked = -1, refused = -1;
    const auto at = out.find("forked ");
    REQUIRE(at != std::string::npos);
    REQUIRE(std::sscanf(out.c_str() + at, "forked %ld, refused %ld", &forked, &refused) == 2);
    CHECK(forked > 0);
    CHECK(forked < 20);
    CHECK(refused > 0);
    hc.finish();
}

TEST_CASE("cpu quota 50% throttles a busy loop", "[host][cpu]") {
    HostCase hc;
    TempDir reports("cpu");
    auto r = run_corral(adhoc(reports.path(),
                              {"--name", "spin", "--memory-max", "64M", "--cpu", "50%", "--timeout", "30s"},
                              {prog("spin"), "1.5"}));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "spin");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(num(s, "/cpu/nr_throttled") > 0);
    CHECK(num(s, "/cpu/throttled_us") > 0);
    // 1.5 s of wall time at half a core: about 0.75 s of CPU, well below what one core would give.
    const double usage_s = num(s, "/cpu/usage_us") / 1e6;
    CHECK(usage_s > 0.3);
    CHECK(usage_s < 0.65 * num(s, "/duration_s"));
    hc.finish();
}

// Inside `unshare --cgroup` /proc/self/cgroup shows "/" while the inherited mounts still show the
// whole hierarchy (mountinfo root "/../.."): corral must map through mountinfo and find its own
// cgroup, create the box below it and still enforce the limit.
TEST_CASE("corral started inside its own cgroup namespace still finds its cgroups and enforces limits",
          "[host][memory][cgroupns]") {
    HostCase hc;
    TempDir reports("cgroupns");
    auto args = adhoc(reports.path(), {"--name", "nsoom", "--memory-max", "32M", "--timeout", "60s"},
                      {prog("alloc"), "256"});
    args.insert(args.begin(), corral_bin());
    args.insert(args.begin(), {"unshare", "--cgroup", "--"});
    auto r = run(args);
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "nsoom");
    CHECK(str(s, "/verdict") == "oom-killed");
    const double peak = num(s, "/memory/peak_bytes");
    CHECK(peak >= 0.9 * 32 * kMiB);
    CHECK(peak <= 34.0 * kMiB);
    // The box lies below this process's own memory cgroup, not at the hierarchy's root.
    auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    REQUIRE(mem != nullptr);
    CHECK_THAT(str(s, "/cgroup"), Catch::Contains(mem->dir + "/corral-nsoom-"));
    hc.finish();
}
