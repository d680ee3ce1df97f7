// The box's processes at its memory peak: when they are read, which are kept, what is read of each.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "corral/report/report.hpp"
#include "corral/run/peak_processes.hpp"
#include "corral/run/procinfo.hpp"

using namespace corral;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

ProcInfo proc(pid_t pid, std::uint64_t rss) {
    ProcInfo p;
    p.pid = pid;
    p.rss_bytes = rss;
    return p;
}

}  // namespace

TEST_CASE("peak processes: read again only 5 % above the usage of the last reading", "[peak_processes]") {
    PeakProcesses pp;
    CHECK(pp.due(0));  // the first sample always reads
    SuiteResult res;
    const std::set<pid_t> self{::getpid()};
    REQUIRE(pp.on_sample(100 * MiB, 0.1, self, res));
    CHECK_FALSE(pp.due(100 * MiB));
    CHECK_FALSE(pp.due(104 * MiB));  // a new peak, but less than 5 % above the last reading
    CHECK_FALSE(pp.on_sample(104 * MiB, 0.2, self, res));
    CHECK(res.peak_processes_t_s == 0.1);
    CHECK_FALSE(pp.due(50 * MiB));
    CHECK(pp.due(105 * MiB));
    CHECK(pp.on_sample(106 * MiB, 0.3, self, res));
    CHECK(res.peak_processes_t_s == 0.3);
    CHECK(res.peak_processes_memory_bytes == 106 * MiB);
    // Nothing in the box (all gone): the last reading stays.
    CHECK_FALSE(pp.on_sample(200 * MiB, 0.4, {}, res));
    CHECK(res.peak_processes_t_s == 0.3);
    CHECK(pp.due(200 * MiB));
    CHECK(kPeakProcessesRise == 0.05);
}

TEST_CASE("peak processes: the largest 10 by RSS are kept, largest first", "[peak_processes]") {
    std::vector<ProcInfo> procs;
    for (pid_t pid = 1; pid <= 25; ++pid)
        procs.push_back(proc(pid, static_cast<std::uint64_t>(pid % 7) * MiB + pid));
    auto top = top_by_rss(procs, kPeakProcessesKept);
    REQUIRE(top.size() == 10);
    for (std::size_t i = 1; i < top.size(); ++i) CHECK(top[i - 1].rss_bytes >= top[i].rss_bytes);
    CHECK(top[0].pid == 20);  // 20 % 7 == 6, the largest remainder with the largest pid
    auto few = top_by_rss({proc(3, 1), proc(1, 5), proc(2, 5)}, 10);
    REQUIRE(few.size() == 3);
    CHECK(few[0].pid == 1);  // equal RSS: lower pid first
    CHECK(few[1].pid == 2);
    CHECK(few[2].pid == 3);
}

TEST_CASE("peak processes: /proc/PID/status gives name, state, ppid, VmRSS and VmSwap", "[peak_processes]") {
    const std::string status =
        "Name:\tpool worker 1\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t27575\nNgid:\t0\nPid:\t27575\n"
        "PPid:\t27570\nVmPeak:\t  140000 kB\nVmRSS:\t  100352 kB\nRssAnon:\t   98304 kB\nVmSwap:\t    2048 "
        "kB\n";
    ProcStatus st = parse_proc_status(status);
    CHECK(st.name == "pool worker 1");
    CHECK(st.state == 'S');
    CHECK(st.ppid == 27570);
    CHECK(st.rss_bytes == 100352ULL * 1024);
    CHECK(st.swap_bytes == 2048ULL * 1024);
    // A kernel thread has no Vm lines.
    ProcStatus kthread = parse_proc_status("Name:\tkworker/0:1\nState:\tI (idle)\nPPid:\t2\n");
    CHECK(kthread.rss_bytes == 0);
    CHECK(kthread.swap_bytes == 0);
    CHECK(kthread.ppid == 2);
}

TEST_CASE("peak processes: this process read from /proc, and the report's memory.peak_processes",
          "[peak_processes]") {
    auto me = read_proc_memory(::getpid());
    REQUIRE(me);
    CHECK(me->pid == ::getpid());
    CHECK(me->ppid == ::getppid());
    CHECK(me->rss_bytes > 0);
    CHECK(me->cmdline.find("corral_unit_tests") != std::string::npos);
    CHECK_FALSE(read_proc_memory(0x3fffffff));

    SuiteResult res;
    PeakProcesses pp;
    REQUIRE(pp.on_sample(64 * MiB, 1.25, {::getpid()}, res));
    auto j = suite_to_json(res);
    REQUIRE(j["memory"]["peak_processes"].size() == 1);
    const auto& p = j["memory"]["peak_processes"][0];
    CHECK(p["pid"] == ::getpid());
    CHECK(p["ppid"] == ::getppid());
    CHECK(p["comm"] == me->comm);
    CHECK(p["cmdline"] == me->cmdline);
    CHECK(p["rss_bytes"].get<std::uint64_t>() > 0);
    CHECK(p["swap_bytes"].is_number());
    CHECK(j["memory"]["peak_processes_read"]["t_s"] == 1.25);
    CHECK(j["memory"]["peak_processes_read"]["memory_bytes"] == 64 * MiB);
    CHECK(j["memory"]["peak_processes_read"]["processes"] == 1);
    const SuiteResult none;
    CHECK(suite_to_json(none)["memory"]["peak_processes_read"].is_null());
}
