// The task dump of kernel OOM records: the layouts of 4.x, 4.15 to 6.7 and 6.8+, names with spaces,
// cut dumps, the JSON, and the explanation's victim clause built on it.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "corral/oom/oom_record.hpp"
#include "corral/oom/task_dump.hpp"
#include "corral/report/oom_victim.hpp"
#include "corral/report/result.hpp"
#include "kmsg_fixture.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;

namespace {

constexpr std::uint64_t kPage = 4096;  // every fixture comes from an x86-64 kernel
constexpr std::uint64_t MiB = 1024 * 1024;

OomRecord only(const std::string& fixture) {
    auto records = fixture::parse_kmsg(fixture);
    INFO(fixture);
    REQUIRE(records.size() == 1);
    return records.front();
}

const OomTask& task(const TaskDump& d, pid_t pid) {
    for (const auto& t : d.tasks)
        if (t.pid == pid) return t;
    FAIL("no task " << pid << " in the dump");
    throw std::logic_error("unreachable");
}

struct LayoutCase {
    std::string file, what;
    std::vector<std::string> columns;
    std::vector<pid_t> pids;
};

std::vector<std::string> cols(std::initializer_list<const char*> names) {
    return {names.begin(), names.end()};
}

KernelLine kline(std::string text) {
    static std::uint64_t seq = 1;
    KernelLine l;
    l.seq = seq++;
    l.mono_us = 1000 + seq;
    l.text = std::move(text);
    return l;
}

}  // namespace

TEST_CASE("task dump: each kernel layout is read by its header's column names", "[oom][task_dump]") {
    auto c = GENERATE(values<LayoutCase>({
        {"v4_memcg.txt",
         "4.x (nr_ptes nr_pmds)",
         cols({"pid", "uid", "tgid", "total_vm", "rss", "nr_ptes", "nr_pmds", "swapents", "oom_score_adj",
               "name"}),
         {24380, 24386, 24387}},
        {"v2_memcg.txt",
         "4.15 to 6.7 (pgtables_bytes), 6.1",
         cols({"pid", "uid", "tgid", "total_vm", "rss", "pgtables_bytes", "swapents", "oom_score_adj",
               "name"}),
         {4240, 4242}},
        {"v2_global_vm.txt",
         "4.15 to 6.7, a global OOM in the 6.1 VM",
         cols({"pid", "uid", "tgid", "total_vm", "rss", "pgtables_bytes", "swapents", "oom_score_adj",
               "name"}),
         {121, 126, 127}},
        {"v2_memcg_6_8.txt",
         "6.8+ (rss_anon rss_file rss_shmem)",
         cols({"pid", "uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "pgtables_bytes",
               "swapents", "oom_score_adj", "name"}),
         {27570, 27575, 27576}},
        {"v1_memcg.txt",
         "6.8+ captured on 6.18",
         cols({"pid", "uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "pgtables_bytes",
               "swapents", "oom_score_adj", "name"}),
         {13692}},
    }));
    CAPTURE(c.file, c.what);
    OomRecord rec = only(c.file);
    // The parser read it with this machine's page size.
    REQUIRE(rec.task_dump);
    CHECK(rec.task_dump->page_size == system_page_size());
    auto d = parse_task_dump(rec.raw_lines, kPage);
    REQUIRE(d);
    CHECK(d->columns == c.columns);
    CHECK(d->unparsed_rows == 0);
    std::vector<pid_t> pids;
    for (const auto& t : d->tasks) pids.push_back(t.pid);
    CHECK(pids == c.pids);
    // The victim's row agrees with its Killed process line (anon + file + shmem, in kB).
    const OomTask& victim = task(*d, rec.victim_pid);
    CHECK(victim.name == rec.victim_comm);
    CHECK(victim.rss_bytes == (rec.anon_rss_kb + rec.file_rss_kb + rec.shmem_rss_kb) * 1024);
    CHECK(victim.total_vm_bytes == rec.total_vm_kb * 1024);
}

TEST_CASE("task dump: the values of each layout, in bytes where they are pages", "[oom][task_dump]") {
    SECTION("4.x: nr_ptes and nr_pmds are counts, swapents pages") {
        auto d = parse_task_dump(only("v4_memcg.txt").raw_lines, kPage);
        REQUIRE(d);
        const OomTask& t = task(*d, 24386);
        CHECK(t.uid == 1000);
        CHECK(t.tgid == 24386);
        CHECK(t.total_vm_bytes == 10498 * kPage);
        CHECK(t.rss_bytes == 10000 * kPage);
        CHECK(t.swap_bytes == 12 * kPage);
        CHECK(t.nr_ptes == 27);
        CHECK(t.nr_pmds == 3);
        CHECK(t.oom_score_adj == 0);
        CHECK(t.name == "hold");
        CHECK_FALSE(t.pgtables_bytes);
        CHECK_FALSE(t.rss_anon_bytes);
    }
    SECTION("4.15 to 6.7: pgtables_bytes in bytes, a negative oom_score_adj") {
        auto d = parse_task_dump(only("v2_global_vm.txt").raw_lines, kPage);
        REQUIRE(d);
        const OomTask& corral = task(*d, 126);
        CHECK(corral.name == "corral");
        CHECK(corral.oom_score_adj == -1000);
        CHECK(corral.rss_bytes == 1597 * kPage);
        CHECK(corral.pgtables_bytes == 57344u);
        CHECK(task(*d, 121).name == "capture-global-");
        CHECK_FALSE(corral.nr_ptes);
    }
    SECTION("6.8+: rss split into anon, file and shmem") {
        auto d = parse_task_dump(only("v2_memcg_6_8.txt").raw_lines, kPage);
        REQUIRE(d);
        const OomTask& t = task(*d, 27576);
        CHECK(t.rss_bytes == 31898 * kPage);
        CHECK(t.rss_anon_bytes == 31386 * kPage);
        CHECK(t.rss_file_bytes == 512 * kPage);
        CHECK(t.rss_shmem_bytes == 0u);
        CHECK(t.pgtables_bytes == 335872u);
        CHECK(t.uid == 1000);
    }
    SECTION("another page size multiplies the page counts, never the byte counts") {
        auto d = parse_task_dump(only("v2_memcg_6_8.txt").raw_lines, 65536);
        REQUIRE(d);
        CHECK(d->page_size == 65536);
        CHECK(task(*d, 27576).rss_bytes == 31898ULL * 65536);
        CHECK(task(*d, 27576).pgtables_bytes == 335872u);
    }
}

TEST_CASE("task dump: a name with spaces is the rest of the row", "[oom][task_dump]") {
    auto d = parse_task_dump(only("v2_memcg_6_8.txt").raw_lines, kPage);
    REQUIRE(d);
    CHECK(task(*d, 27575).name == "pool worker 1");
    CHECK(task(*d, 27575).rss_bytes == 98 * MiB);

    // A 4.x row (%5d pid) whose comm has spaces and digits of its own.
    auto old = parse_task_dump(
        {"[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name",
         "[ 3941]  1000  3941    28880      124      14       3        0             0 Web Content 2"},
        kPage);
    REQUIRE(old);
    REQUIRE(old->tasks.size() == 1);
    CHECK(old->tasks[0].name == "Web Content 2");
    CHECK(old->tasks[0].rss_bytes == 124 * kPage);
}

TEST_CASE("task dump: rows cut short are counted, not guessed, and the rows before them are kept",
          "[oom][task_dump]") {
    const std::string header =
        "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents "
        "oom_score_adj name";
    auto d = parse_task_dump({"Tasks state (memory values in pages):", header,
                              "[  27570]  1000 27570     9120     5903     3620     2283         0    94208  "
                              "      0             0 python3",
                              "[  27575]  1000 27575    33791    25088    24576",
                              "[  27576]  1000 27576    40211    31898    31386      512         0   335872  "
                              "      0             0",
                              "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null)"},
                             kPage);
    REQUIRE(d);
    REQUIRE(d->tasks.size() == 1);
    CHECK(d->tasks[0].pid == 27570);
    CHECK(d->unparsed_rows == 2);  // one cut in its numbers, one before its name

    SECTION("a header without rows is an empty dump, no header is none") {
        auto empty = parse_task_dump({header, "oom-kill:constraint=CONSTRAINT_MEMCG"}, kPage);
        REQUIRE(empty);
        CHECK(empty->tasks.empty());
        CHECK_FALSE(parse_task_dump({"memory: usage 1kB, limit 1kB, failcnt 0", "[  123]  0 123 1 1 0 0 0 x"},
                                    kPage));
    }
    SECTION("a column no layout has is kept by its name") {
        auto vendor = parse_task_dump(
            {"[  pid  ]   uid  tgid total_vm      rss node_mm_rss pgtables_bytes swapents oom_score_adj name",
             "[    116]     0   116  2628942  1995298     1234  16052224        0          1000 "
             "stress-ng-vm"},
            kPage);
        REQUIRE(vendor);
        REQUIRE(vendor->tasks.size() == 1);
        CHECK(vendor->tasks[0].extra.at("node_mm_rss") == 1234);
        CHECK(vendor->tasks[0].oom_score_adj == 1000);
        CHECK(oom_task_to_json(vendor->tasks[0])["node_mm_rss"] == 1234);
    }
}

TEST_CASE("task dump: a dump longer than the record's line limit is cut and says so", "[oom][task_dump]") {
    OomParser p;
    p.feed(kline("worker invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"));
    p.feed(kline("Tasks state (memory values in pages):"));
    p.feed(kline("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"));
    for (int i = 0; i < 500; ++i)
        p.feed(kline(fmt::format("[{:7}] {:5} {:5} {:8} {:8} {:8} {:8}         {:5} worker", 1000 + i, 0,
                                 1000 + i, 300, 200, 40960, 0, 0)));
    p.feed(
        kline("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/b,"
              "task_memcg=/b,task=worker,pid=1499,uid=0"));
    p.feed(
        kline("Memory cgroup out of memory: Killed process 1499 (worker) total-vm:1200kB, anon-rss:800kB, "
              "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0"));
    auto recs = p.take_complete();
    REQUIRE(recs.size() == 1);
    const OomRecord& r = recs[0];
    REQUIRE(r.task_dump);
    CHECK(r.raw_lines_dropped > 0);
    CHECK(r.task_dump->tasks.size() == OomParser::kMaxRawLines - 3);  // invoked, Tasks state, header
    auto j = oom_record_to_json(r, WhoseLimit::Own, 0, 0);
    CHECK(j["tasks"].size() == r.task_dump->tasks.size());
    CHECK(j["task_dump"]["truncated"] == true);
}

TEST_CASE("task dump: the record's JSON lists the tasks, null without a dump", "[oom][task_dump]") {
    auto j = oom_record_to_json(only("v2_memcg_6_8.txt"), WhoseLimit::Own, 0, 0);
    REQUIRE(j["tasks"].size() == 3);
    const auto& t = j["tasks"][1];
    CHECK(t["pid"] == 27575);
    CHECK(t["tgid"] == 27575);
    CHECK(t["uid"] == 1000);
    CHECK(t["name"] == "pool worker 1");
    CHECK(t["total_vm_bytes"] == 33791 * system_page_size());
    CHECK(t["rss_bytes"] == 25088 * system_page_size());
    CHECK(t["swap_bytes"] == 0);
    CHECK(t["oom_score_adj"] == 0);
    CHECK(t["rss_anon_bytes"] == 24576 * system_page_size());
    CHECK(t["rss_file_bytes"] == 512 * system_page_size());
    CHECK(t["rss_shmem_bytes"] == 0);
    CHECK(t["pgtables_bytes"] == 282624);
    CHECK_FALSE(t.contains("nr_ptes"));
    CHECK(j["task_dump"]["columns"].size() == 12);
    CHECK(j["task_dump"]["page_size"] == system_page_size());
    CHECK(j["task_dump"]["truncated"] == false);

    auto old = oom_record_to_json(only("v4_memcg.txt"), WhoseLimit::Own, 0, 0);
    CHECK(old["tasks"][2]["name"] == "stress");
    CHECK(old["tasks"][1]["nr_ptes"] == 27);
    CHECK_FALSE(old["tasks"][1].contains("rss_anon_bytes"));

    // The kernel's rate limit leaves out everything but the Killed process line.
    OomParser p;
    p.feed(kline(
        "Memory cgroup out of memory: Killed process 4242 (python3) total-vm:81920kB, anon-rss:65052kB, "
        "file-rss:632kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0"));
    auto recs = p.take_complete();
    REQUIRE(recs.size() == 1);
    CHECK_FALSE(recs[0].task_dump);
    auto bare = oom_record_to_json(recs[0], WhoseLimit::Own, 0, 0);
    CHECK(bare["tasks"].is_null());
    CHECK(bare["task_dump"].is_null());
}

namespace {

SuiteResult killed_suite(const OomRecord& rec, WhoseLimit whose) {
    SuiteResult r;
    r.name = "e2e";
    r.signal = SIGKILL;
    r.duration_s = 3;
    r.limits.memory_max = 256 * MiB;
    r.peak_bytes = 256 * MiB;
    r.oom_kills = 1;
    r.oom_records.push_back(make_oom_kill(rec, whose, 0));
    return r;
}

ProcInfo proc(pid_t pid, const std::string& comm, std::uint64_t rss) {
    ProcInfo p;
    p.pid = pid;
    p.comm = comm;
    p.rss_bytes = rss;
    return p;
}

}  // namespace

TEST_CASE("explanation: the victim's share of memory.max and the largest other process of the box",
          "[oom][task_dump][result]") {
    OomRecord rec = only("v2_memcg_6_8.txt");
    rec.task_dump = parse_task_dump(rec.raw_lines, kPage);  // the numbers below are for 4 KiB pages

    SECTION("from the record's dump") {
        SuiteResult r = killed_suite(rec, WhoseLimit::Own);
        CHECK(oom_victim_clause(r) ==
              "; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB) while 27575 "
              "(pool worker 1) held 98 MiB");
        CHECK_THAT(explain(r), EndsWith("at 256 MiB; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB) "
                                        "while 27575 (pool worker 1) held 98 MiB."));
        r.limits.memory_max.reset();
        CHECK(oom_victim_clause(r) ==
              "; the kernel killed 27576 (python3, 124.6 MiB) while 27575 (pool worker 1) "
              "held 98 MiB");
    }
    SECTION("several kills: the first is named") {
        SuiteResult r = killed_suite(rec, WhoseLimit::Own);
        r.oom_kills = 5;
        CHECK_THAT(explain(r), Contains("; the kernel first killed 27576 (python3, 124.6 MiB of 256 MiB)"));
    }
    SECTION("a dump of another cgroup's OOM: only the processes seen in the box count") {
        SuiteResult r = killed_suite(rec, WhoseLimit::Ancestor);
        CHECK(oom_victim_clause(r) == "; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB)");
        r.peak_processes = {proc(27576, "python3", 100 * MiB), proc(27570, "python3", 20 * MiB)};
        r.peak_processes_t_s = 2.5;
        CHECK(oom_victim_clause(r) ==
              "; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB) while 27570 "
              "(python3) held 23.1 MiB");
    }
    SECTION("no dump (the kernel's rate limit): the box's processes at its last peak reading") {
        rec.task_dump.reset();
        SuiteResult r = killed_suite(rec, WhoseLimit::Own);
        CHECK(oom_victim_clause(r) == "; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB)");
        r.peak_processes = {proc(27576, "python3", 120 * MiB), proc(27575, "python3", 90 * MiB),
                            proc(27570, "python3", 20 * MiB)};
        r.peak_processes_t_s = 1.5;
        CHECK(oom_victim_clause(r) ==
              "; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB) while 27575 "
              "(python3) held 90 MiB when last read at t=1.5s");
    }
    SECTION("the victim alone in its dump: nothing about others") {
        SuiteResult r = killed_suite(only("v1_memcg.txt"), WhoseLimit::Own);
        r.limits.memory_max = 32 * MiB;
        r.peak_processes = {proc(99, "sh", 5 * MiB)};  // a dump is there: the peak reading is not used
        CHECK(oom_victim_clause(r) == "; the kernel killed 13692 (alloc, 33.1 MiB of 32 MiB)");
    }
    SECTION("no record: no clause") {
        SuiteResult r = killed_suite(rec, WhoseLimit::Own);
        r.oom_records.clear();
        CHECK(oom_victim_clause(r).empty());
    }
}
