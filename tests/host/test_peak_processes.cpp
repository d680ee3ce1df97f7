// Host tier: what in the suite held the memory — the box's processes at its peak (memory.peak_processes)
// and the kernel record's task dump (oom.records[].tasks), named in the explanation.
#include <catch2/catch.hpp>
#include <regex>
#include <string>

#include "harness.hpp"

using namespace host;

namespace {

// The entry of a JSON array of processes whose key (comm or name) is `name`, or nullptr.
const Json* by_name(const Json& list, const std::string& key, const std::string& name) {
    for (const auto& p : list)
        if (p.value(key, "") == name) return &p;
    return nullptr;
}

}  // namespace

TEST_CASE(
    "two processes under memory.max 100M: the peak's processes, the kill's task dump and the victim's share",
    "[host][memory][oom][peak_processes]") {
    HostCase hc;
    TempDir reports("peak-procs");
    // A holder of 36 MiB, then a staircase of 2 MiB every 40 ms (samples every 100 ms see it climb)
    // that the OOM killer takes past 100M; the holder is left behind and ended by corral.
    const std::string script =
        prog("alloc") + " 36 36 30 & sleep 0.5; exec " + prog("staircase") + " 200 2 40";
    auto r = run_corral(adhoc(reports.path(), {"--name", "two", "--memory-max", "100M", "--timeout", "60s"},
                              {"sh", "-c", script}));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "two");
    REQUIRE(str(s, "/verdict") == "oom-killed");

    // memory.peak_processes: both, largest first, read near the peak.
    const Json& peak = field(s, "/memory/peak_processes");
    INFO(peak.dump(1));
    REQUIRE(peak.size() >= 2);
    CHECK(peak.size() <= 10);
    for (std::size_t i = 1; i < peak.size(); ++i)
        CHECK(num(peak[i - 1], "/rss_bytes") >= num(peak[i], "/rss_bytes"));
    const Json* holder = by_name(peak, "comm", "alloc");
    const Json* climber = by_name(peak, "comm", "staircase");
    REQUIRE(holder);
    REQUIRE(climber);
    CHECK(num(*holder, "/rss_bytes") >= 36.0 * kMiB);
    CHECK(num(*holder, "/rss_bytes") <= 40.0 * kMiB);   // 36 MiB touched, the program and libc
    CHECK(num(*climber, "/rss_bytes") >= 40.0 * kMiB);  // read at a peak of 5 % steps below 100M
    CHECK(num(*climber, "/rss_bytes") <= 100.0 * kMiB);
    CHECK(peak[0]["comm"] == "staircase");
    CHECK_THAT(str(*holder, "/cmdline"), Catch::Contains("alloc 36 36 30"));
    CHECK(num(*climber, "/swap_bytes") == 0);
    CHECK(num(s, "/memory/peak_processes_read/memory_bytes") >= 70.0 * kMiB);
    CHECK(num(s, "/memory/peak_processes_read/processes") >= 2);

    // The kernel's task dump in the record: both, with what they held at the kill.
    REQUIRE(field(s, "/oom/records").size() >= 1);
    const Json& rec = field(s, "/oom/records/0");
    CHECK(str(rec, "/victim/comm") == "staircase");
    const Json& tasks = field(rec, "/tasks");
    INFO(tasks.dump(1));
    const Json* held = by_name(tasks, "name", "alloc");
    const Json* killed = by_name(tasks, "name", "staircase");
    REQUIRE(held);
    REQUIRE(killed);
    CHECK(num(*held, "/pid") == num(*holder, "/pid"));
    CHECK(num(*held, "/rss_bytes") >= 36.0 * kMiB);
    CHECK(num(*held, "/rss_bytes") <= 40.0 * kMiB);
    CHECK(num(*killed, "/pid") == num(rec, "/victim/pid"));
    CHECK(num(*killed, "/rss_bytes") >= 50.0 * kMiB);  // 100M less the holder and the page cache
    CHECK(num(*killed, "/rss_bytes") <= 100.0 * kMiB);
    CHECK(num(*killed, "/total_vm_bytes") >= num(*killed, "/rss_bytes"));

    // The explanation: the victim's share of memory.max and the other process.
    const std::string expl = str(s, "/explanation");
    std::smatch m;
    REQUIRE(std::regex_search(
        expl, m,
        std::regex(
            R"(the kernel killed (\d+) \(staircase, ([0-9.]+) MiB of 100 MiB\) while (\d+) \(alloc\) held ([0-9.]+) MiB)")));
    CHECK(std::stod(m[1]) == num(rec, "/victim/pid"));
    CHECK(std::stod(m[2]) * kMiB == Approx(num(*killed, "/rss_bytes")).margin(0.1 * kMiB));
    CHECK(std::stod(m[3]) == num(*held, "/pid"));
    CHECK(std::stod(m[4]) * kMiB == Approx(num(*held, "/rss_bytes")).margin(0.1 * kMiB));
    hc.finish();
}
