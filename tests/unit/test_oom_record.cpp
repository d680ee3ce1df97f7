#include <catch2/catch.hpp>
#include <csignal>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "corral/base/fd.hpp"
#include "corral/oom/attribution.hpp"
#include "corral/oom/oom_record.hpp"
#include "corral/report/result.hpp"
#include "kmsg_fixture.hpp"

using namespace corral;

namespace {

const std::string kProcessApi = "/process_api/0afb945f41065e7f6f784aab9c4a6581";
// The box of the real global OOM (v2_global_vm.txt): a suite named "global" in the test VM's root cgroup.
const std::string kGlobalBox = "corral-global-9ee45d8c";

std::vector<KernelLine> load_fixture(const std::string& name) { return fixture::load_kmsg(name); }

std::vector<OomRecord> parse_all(const std::vector<KernelLine>& lines) {
    OomParser p;
    for (const auto& l : lines) p.feed(l);
    return p.take_complete();
}

OomRecord only_record(const std::string& fixture) {
    auto records = parse_all(load_fixture(fixture));
    INFO(fixture);
    REQUIRE(records.size() == 1);
    return records.front();
}

struct KmsgCase {
    std::string raw;
    std::optional<KernelLine> want;
};

struct FixtureCase {
    std::string file;
    std::string invoker, constraint, oom_memcg, task_memcg;
    pid_t pid;
    std::string comm;
    uid_t uid;
    std::uint64_t total_vm, anon, file_rss, shmem;
    std::optional<std::uint64_t> usage, limit;
    bool global;
    std::uint64_t mono_us;
    std::size_t raw_count;
    std::string first_raw;
};

struct MatchCase {
    std::string kernel_path, suffix;
    bool matches;
};

struct AttributionCase {
    std::string fixture, box;
    std::set<pid_t> pids;
    WhoseLimit whose;
    bool belongs;
};

struct GlobalLimitCase {
    std::string what;
    std::optional<std::uint64_t> memory_max;
};

}  // namespace

TEST_CASE("parse_kmsg_record reads the prefix, decodes hex escapes and drops continuation lines", "[oom][kmsg]") {
    auto c = GENERATE(values<KmsgCase>({
        {"6,1579,4817671869,-;memory: usage 32768kB, limit 32768kB, failcnt 41\n",
         KernelLine{1579, 4817671869, 6, "memory: usage 32768kB, limit 32768kB, failcnt 41"}},
        {"12,1791,4923713933,-;corral-clock-probe\n", KernelLine{1791, 4923713933, 4, "corral-clock-probe", false}},  // facility user
        {"4,1553,4817671575,-; <TASK>\n", KernelLine{1553, 4817671575, 4, " <TASK>"}},
        {"6,339,5140900,-,caller=T1;with caller field\n", KernelLine{339, 5140900, 6, "with caller field"}},
        {"6,5,10,c;old continuation flag", KernelLine{5, 10, 6, "old continuation flag"}},
        {"6,5,10;no flags field\n", KernelLine{5, 10, 6, "no flags field"}},
        {"6,5105,7000000035,-;eth0: NIC Link is Up\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:19.0\n",
         KernelLine{5105, 7000000035, 6, "eth0: NIC Link is Up"}},
        {"4,7,9,-;a\\x09b\\x5cc\\x0ad\n", KernelLine{7, 9, 4, "a\tb\\c\nd"}},
        {"4,7,9,-;\\xZZ and \\x4\n", KernelLine{7, 9, 4, "\\xZZ and \\x4"}},
        {"3,0,0,-;;semicolons; kept\n", KernelLine{0, 0, 3, ";semicolons; kept"}},
        {"6,1,2,-;\n", KernelLine{1, 2, 6, ""}},
        {"", std::nullopt},
        {"no prefix at all\n", std::nullopt},
        {"a,b,c,-;letters\n", std::nullopt},
        {"6,1;no timestamp\n", std::nullopt},
        {"6,,3,-;empty seq\n", std::nullopt},
        {"-6,1,2,-;negative priority\n", std::nullopt},
        {"6,1,2\n,-;newline in the prefix\n", std::nullopt},
    }));
    CAPTURE(c.raw);
    auto got = parse_kmsg_record(c.raw);
    REQUIRE(got.has_value() == c.want.has_value());
    if (!got) return;
    CHECK(got->seq == c.want->seq);
    CHECK(got->mono_us == c.want->mono_us);
    CHECK(got->priority == c.want->priority);
    CHECK(got->text == c.want->text);
    CHECK(got->from_kernel == c.want->from_kernel);
}

TEST_CASE("OomParser takes only the kernel's lines: a process's own OOM-looking lines in /dev/kmsg are ignored",
          "[oom][kmsg]") {
    // What `echo '…' > /dev/kmsg` gives (facility user, 12 = LOG_USER|LOG_WARNING) next to the kernel's.
    OomParser p;
    for (const char* raw : {"12,10,100,-;x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n",
                            "12,11,101,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
                            "oom_memcg=/corral-a-1a2b3c4d,task_memcg=/corral-a-1a2b3c4d,task=x,pid=4242,uid=0\n",
                            "11,12,102,-;Memory cgroup out of memory: Killed process 4242 (x) total-vm:1kB, "
                            "anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n"}) {
        auto line = parse_kmsg_record(raw);
        REQUIRE(line);
        CHECK_FALSE(line->from_kernel);
        p.feed(*line);
    }
    CHECK(p.take_complete().empty());
    // The same text from the kernel (facility kern) is a record.
    auto real = parse_kmsg_record("3,13,103,-;Memory cgroup out of memory: Killed process 4242 (x) total-vm:1kB, "
                                  "anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n");
    REQUIRE(real);
    p.feed(*real);
    CHECK(p.take_complete().size() == 1);
}

TEST_CASE("OomParser turns each fixture into exactly one record with the expected fields", "[oom]") {
    const std::string v1box = kProcessApi + "/corral-fixture-x";
    const std::string ancestor = kProcessApi + "/corral-fixture-anc";
    const std::string unit = kProcessApi + "/corral-unit-1a2b3c4d";
    auto c = GENERATE_COPY(values<FixtureCase>({
        // captured on the dev host (kernel 6.18, cgroup v1 memory limit 32M)
        {"v1_memcg.txt", "alloc", "CONSTRAINT_MEMCG", v1box, v1box, 13692, "alloc", 0, 35276, 32512, 1348, 0,
         32768, 32768, false, 4817672099, 80,
         "alloc invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"},
        // captured: the limit is on the parent, the task is in a child cgroup
        {"v1_ancestor.txt", "alloc", "CONSTRAINT_MEMCG", ancestor, ancestor + "/corral-unit-1a2b3c4d", 13904,
         "alloc", 0, 35276, 32512, 1336, 0, 32768, 32768, false, 4824236329, 79,
         "alloc invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"},
        // captured: another cgroup whose name extends "corral-a-1"
        {"v1_other_cgroup.txt", "alloc", "CONSTRAINT_MEMCG", kProcessApi + "/corral-a-10",
         kProcessApi + "/corral-a-10", 32156, "alloc", 0, 35276, 32640, 1468, 0, 32768, 32768, false,
         5846792374, 80, "alloc invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"},
        // kernel 6.1 cgroup v2 format: swap: line and the stat block as one record
        {"v2_memcg.txt", "python3", "CONSTRAINT_MEMCG", "/corral.slice/corral-unit-5e6f7a8b",
         "/corral.slice/corral-unit-5e6f7a8b", 4242, "python3", 0, 81920, 65052, 632, 0, 65536, 65536, false,
         912345902, 33, "python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"},
        // captured in the test VM (tests/vm/capture-global-oom.sh: Debian 6.1.0-57, 2048 MiB, no swap): a
        // global OOM of corral's suite without memory.max; Mem-Info dump, global_oom, no memory: line
        {"v2_global_vm.txt", "alloc", "CONSTRAINT_NONE", "", "/" + kGlobalBox, 127, "alloc", 0, 1887088,
         1875004, 4, 1228, std::nullopt, std::nullopt, true, 18512744, 53,
         "alloc invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, "
         "oom_score_adj=0"},
        // the reader started mid-report: the oom-kill: line starts the record
        {"no_invoked.txt", "", "CONSTRAINT_MEMCG", unit, unit, 20117, "alloc", 1001, 35276, 32512, 1348, 0,
         std::nullopt, std::nullopt, false, 6012000042, 2, "oom-kill:constraint=CONSTRAINT_MEMCG,"},
        // unrelated lines in between are left out; the comm has an escaped tab
        {"split_interleaved.txt", "my\ttool", "CONSTRAINT_MEMCG", unit + "/worker", unit + "/worker", 20555,
         "my\ttool", 0, 18892, 16256, 672, 0, 16384, 16384, false, 7000000133, 16,
         "my\ttool invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"},
    }));
    CAPTURE(c.file);
    OomRecord r = only_record(c.file);
    CHECK(r.invoker == c.invoker);
    CHECK(r.constraint == c.constraint);
    CHECK(r.oom_memcg == c.oom_memcg);
    CHECK(r.task_memcg == c.task_memcg);
    CHECK(r.victim_pid == c.pid);
    CHECK(r.victim_comm == c.comm);
    CHECK(r.uid == c.uid);
    CHECK(r.total_vm_kb == c.total_vm);
    CHECK(r.anon_rss_kb == c.anon);
    CHECK(r.file_rss_kb == c.file_rss);
    CHECK(r.shmem_rss_kb == c.shmem);
    CHECK(r.memcg_usage_kb == c.usage);
    CHECK(r.memcg_limit_kb == c.limit);
    CHECK(r.global == c.global);
    CHECK(r.mono_us == c.mono_us);
    CHECK(r.source == "kmsg");
    CHECK(r.raw_lines.size() == c.raw_count);
    REQUIRE(!r.raw_lines.empty());
    CHECK(r.raw_lines.front().rfind(c.first_raw, 0) == 0);
    CHECK(r.raw_lines.back() == r.victim_line);
    CHECK(r.victim_line.find(": Killed process " + std::to_string(c.pid) + " (") != std::string::npos);
}

TEST_CASE("OomParser leaves unrelated lines out of raw_lines but keeps the report's", "[oom]") {
    OomRecord r = only_record("split_interleaved.txt");
    auto has = [&](const std::string& part) {
        for (const auto& l : r.raw_lines)
            if (l.find(part) != std::string::npos) return true;
        return false;
    };
    for (const char* dropped : {"EXT4-fs", "NIC Link is Up", "SUBSYSTEM=", "audit:", "corral-kmsg-test"}) {
        CAPTURE(dropped);
        CHECK_FALSE(has(dropped));
    }
    for (const char* kept : {" <TASK>", "memory: usage", "memory+swap:", "kmem:", "Memory cgroup stats for",
                             "rss 16646144", "Tasks state", "[  20555]", "oom-kill:", "Killed process"}) {
        CAPTURE(kept);
        CHECK(has(kept));
    }
    // the v2 stat block is one line with embedded newlines, kept as it is
    OomRecord v2 = only_record("v2_memcg.txt");
    bool stat_block = false;
    for (const auto& l : v2.raw_lines) stat_block |= l.rfind("anon 66625536\nfile 4096\n", 0) == 0;
    CHECK(stat_block);
}

TEST_CASE("OomParser completes a record only at its Killed process line, fed one line at a time", "[oom]") {
    auto lines = load_fixture("split_interleaved.txt");
    OomParser p;
    std::size_t completed_at = lines.size();
    std::vector<OomRecord> got;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        p.feed(lines[i]);
        auto done = p.take_complete();
        if (!done.empty()) {
            CHECK(completed_at == lines.size());  // only once
            completed_at = i;
        }
        for (auto& r : done) got.push_back(std::move(r));
        CAPTURE(i, lines[i].text);
        bool inside = i >= 1 && i < lines.size() - 2;  // "invoked" … line before "Killed process"
        CHECK(p.in_progress() == inside);
    }
    REQUIRE(got.size() == 1);
    CHECK(lines[completed_at].text.find("Killed process 20555") != std::string::npos);
    CHECK(got[0].raw_lines.size() == 16);

    SECTION("split across two reads with take_complete in between") {
        auto v1 = load_fixture("v1_memcg.txt");
        OomParser q;
        for (std::size_t i = 0; i < 40; ++i) q.feed(v1[i]);
        CHECK(q.take_complete().empty());
        CHECK(q.in_progress());
        for (std::size_t i = 40; i < v1.size(); ++i) q.feed(v1[i]);
        auto done = q.take_complete();
        REQUIRE(done.size() == 1);
        CHECK(done[0].raw_lines.size() == 80);
        CHECK(done[0].memcg_usage_kb == 32768u);
        CHECK(q.take_complete().empty());
    }
}

TEST_CASE("OomParser handles several reports in a row and drops one that never killed", "[oom]") {
    std::vector<KernelLine> all;
    for (const char* f : {"v1_memcg.txt", "v2_global_vm.txt", "v2_memcg.txt"}) {
        auto lines = load_fixture(f);
        all.insert(all.end(), lines.begin(), lines.end());
        // the oom_reaper's line (mm/oom_kill.c) after a kill is no part of it and starts nothing
        if (std::string(f) == "v2_global_vm.txt")
            all.push_back({lines.back().seq + 1, lines.back().mono_us + 2000000, 6,
                           "oom_reaper: reaped process 127 (alloc), now anon-rss:0kB, file-rss:0kB, "
                           "shmem-rss:0kB"});
    }
    auto records = parse_all(all);
    REQUIRE(records.size() == 3);
    CHECK(records[0].victim_pid == 13692);
    CHECK(records[1].victim_pid == 127);
    CHECK(records[1].global);
    CHECK(records[1].raw_lines.size() == 53);
    CHECK(records[2].victim_pid == 4242);
    CHECK(records[2].raw_lines.size() == 33);

    // half a report (no oom-kill:, no Killed process) followed by a whole one
    auto v1 = load_fixture("v1_memcg.txt");
    auto v2 = load_fixture("v2_memcg.txt");
    std::vector<KernelLine> lines(v1.begin(), v1.begin() + 40);
    lines.insert(lines.end(), v2.begin(), v2.end());
    auto only = parse_all(lines);
    REQUIRE(only.size() == 1);
    CHECK(only[0].invoker == "python3");
    CHECK(only[0].raw_lines.size() == 33);
    CHECK(only[0].memcg_usage_kb == 65536u);

    // a Killed process line alone still makes a record; a pid that differs from the oom-kill:
    // line's starts a new one
    OomParser p;
    p.feed({1, 10, 4,
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
            "oom_memcg=/a,task_memcg=/a/b,c,task=x,y,pid=77,uid=5"});
    p.feed({2, 11, 3,
            "Memory cgroup out of memory: Killed process 78 (z) total-vm:1kB, anon-rss:2kB, "
            "file-rss:3kB, shmem-rss:4kB, UID:6 pgtables:8kB oom_score_adj:0"});
    auto alone = p.take_complete();
    REQUIRE(alone.size() == 1);
    CHECK(alone[0].victim_pid == 78);
    CHECK(alone[0].victim_comm == "z");
    CHECK(alone[0].task_memcg.empty());
    CHECK(alone[0].uid == 6);
    CHECK(alone[0].shmem_rss_kb == 4);
    CHECK_FALSE(alone[0].global);

    // commas in the cgroup path and the comm of the oom-kill: line
    p.feed({3, 12, 6,
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
            "oom_memcg=/a,b,task_memcg=/a,b/c,task=x,y,pid=77,uid=5"});
    p.feed({4, 13, 3,
            "Memory cgroup out of memory: Killed process 77 (x,y) total-vm:1kB, anon-rss:2kB, "
            "file-rss:3kB, shmem-rss:4kB, UID:5 pgtables:8kB oom_score_adj:0"});
    auto commas = p.take_complete();
    REQUIRE(commas.size() == 1);
    CHECK(commas[0].oom_memcg == "/a,b");
    CHECK(commas[0].task_memcg == "/a,b/c");
    CHECK(commas[0].victim_comm == "x,y");
    CHECK(commas[0].raw_lines.size() == 2);
}

TEST_CASE("cgroup_path_matches compares whole path components at the end of a prefix", "[oom]") {
    auto c = GENERATE(values<MatchCase>({
        {"/process_api/id/corral-a-1", "corral-a-1", true},
        {"/process_api/id/corral-a-1", "/corral-a-1", true},  // seen from inside a cgroup namespace
        {"/process_api/id/corral-a-1", "/process_api/id/corral-a-1", true},
        {"/process_api/id/corral-a-1", "id/corral-a-1/", true},
        {"/process_api/id/corral-a-1/sub/deeper", "corral-a-1", true},  // below the box
        {"/process_api/id/corral-a-10", "corral-a-1", false},           // a longer name is another cgroup
        {"/process_api/id/x-corral-a-1", "corral-a-1", false},
        {"/process_api/id/corral-a-10/corral-a-1x", "corral-a-1", false},
        {"/process_api/id/corral-a-1", "/other/corral-a-1", false},
        {"/corral-a-1", "/process_api/id/corral-a-1", false},      // the kernel's path is never shorter
        {"/process_api/id", "/process_api/id/corral-a-1", false},  // a parent is not the box
        {"", "corral-a-1", false},
        {"/process_api/id", "", false},
        {"/process_api/id", "/", false},
    }));
    CAPTURE(c.kernel_path, c.suffix);
    CHECK(cgroup_path_matches(c.kernel_path, c.suffix) == c.matches);
}

TEST_CASE("classify and the box path attribute records to a suite's box", "[oom]") {
    auto c = GENERATE(values<AttributionCase>({
        {"v1_memcg.txt", "corral-fixture-x", {}, WhoseLimit::Own, true},
        {"v1_memcg.txt", "/corral-fixture-x", {}, WhoseLimit::Own, true},
        {"v1_memcg.txt", kProcessApi + "/corral-fixture-x", {}, WhoseLimit::Own, true},
        {"v1_memcg.txt", "corral-other", {}, WhoseLimit::Ancestor, false},
        // the record names its cgroups: a pid seen in another box does not change that
        {"v1_memcg.txt", "corral-other", {13692}, WhoseLimit::Ancestor, false},
        {"v1_memcg.txt", "corral-other", {13691, 13693}, WhoseLimit::Ancestor, false},
        // the parent's limit killed a task in the box: ancestor
        {"v1_ancestor.txt", "corral-unit-1a2b3c4d", {}, WhoseLimit::Ancestor, true},
        // the box is the parent, the task ran in a cgroup below it: own
        {"v1_ancestor.txt", "corral-fixture-anc", {}, WhoseLimit::Own, true},
        {"v1_other_cgroup.txt", "corral-a-1", {}, WhoseLimit::Ancestor, false},  // never attached
        {"v1_other_cgroup.txt", "corral-a-10", {}, WhoseLimit::Own, true},
        {"v2_memcg.txt", "/corral-unit-5e6f7a8b", {}, WhoseLimit::Own, true},
        {"v2_memcg.txt", "corral.slice/corral-unit-5e6f7a8b", {}, WhoseLimit::Own, true},
        {"v2_memcg.txt", "corral-unit-5e6f7a8", {}, WhoseLimit::Ancestor, false},
        // a global OOM is the host's whatever the box; it belongs to the box its victim ran in
        {"v2_global_vm.txt", kGlobalBox, {}, WhoseLimit::Host, true},
        {"v2_global_vm.txt", "/" + kGlobalBox, {}, WhoseLimit::Host, true},
        {"v2_global_vm.txt", "corral-global-9ee45d8", {}, WhoseLimit::Host, false},
        {"v2_global_vm.txt", "corral-unit-5e6f7a8b", {}, WhoseLimit::Host, false},
        {"v2_global_vm.txt", "corral-unit-5e6f7a8b", {127}, WhoseLimit::Host, false},
        {"no_invoked.txt", "corral-unit-1a2b3c4d", {}, WhoseLimit::Own, true},
        {"split_interleaved.txt", "corral-unit-1a2b3c4d", {}, WhoseLimit::Own, true},
        {"split_interleaved.txt", "worker", {}, WhoseLimit::Own, true},
        {"split_interleaved.txt", "corral-unit-1a2b3c4d/work", {}, WhoseLimit::Ancestor, false},
    }));
    CAPTURE(c.fixture, c.box);
    OomRecord r = only_record(c.fixture);
    CHECK(whose_limit_name(classify(r, c.box)) == whose_limit_name(c.whose));
    OomAttribution a;
    const std::size_t suite = a.add_suite(c.box, 0, 0.1);
    const double t = static_cast<double>(r.mono_us) / 1e6;
    for (pid_t p : c.pids) a.seen(suite, p, 1, t - 0.05);
    CHECK(a.owner(r).has_value() == c.belongs);
}

namespace {

// A record as the kernel writes it in an OOM storm past its rate limit: the "Killed process" line
// only, no oom-kill: header with the cgroup paths.
OomRecord headerless(pid_t victim, double t_s) {
    OomRecord r;
    r.constraint = "";
    r.victim_pid = victim;
    r.victim_comm = "worker";
    r.mono_us = static_cast<std::uint64_t>(t_s * 1e6);
    r.victim_line = "Memory cgroup out of memory: Killed process " + std::to_string(victim) + " (worker)";
    return r;
}

}  // namespace

TEST_CASE("OOM attribution: the box path decides, a pid only while that process is in the box, never after the end",
          "[oom][attribution]") {
    OomAttribution a;
    const std::size_t one = a.add_suite("corral-one-1a2b3c4d", 10.0, 0.1);
    const std::size_t two = a.add_suite("corral-two-1a2b3c4d", 10.0, 0.1);
    SECTION("a record naming a box is that suite's, whatever pid another box held") {
        a.seen(two, 500, 7, 10.5);
        OomRecord r = headerless(500, 10.55);
        r.constraint = "CONSTRAINT_MEMCG";
        r.oom_memcg = r.task_memcg = "/process_api/x/corral-one-1a2b3c4d";
        CHECK(a.owner(r) == std::optional<std::size_t>(one));
    }
    SECTION("a header-less record goes to the suite whose box held the victim at the time") {
        a.seen(one, 600, 7, 10.2);
        a.seen(one, 600, 7, 10.3);
        CHECK(a.owner(headerless(600, 10.35)) == std::optional<std::size_t>(one));
        CHECK_FALSE(a.owner(headerless(601, 10.35)));  // never seen in a box
    }
    SECTION("a reused pid: the latest process with that pid before the kill decides") {
        a.seen(one, 700, 7, 10.1);   // suite one's process 700 ...
        a.seen(one, 700, 7, 10.2);   // ... ends after 10.2
        a.seen(two, 700, 99, 10.4);  // the pid comes back in suite two as another process
        CHECK(a.owner(headerless(700, 10.45)) == std::optional<std::size_t>(two));
        CHECK(a.owner(headerless(700, 10.25)) == std::optional<std::size_t>(one));
    }
    SECTION("a process last seen long before the kill no longer counts as in the box") {
        a.seen(one, 800, 7, 10.1);
        CHECK_FALSE(a.owner(headerless(800, 12.0)));  // its pid may belong to anyone by now
    }
    SECTION("a suite that ended before the record's time never takes it") {
        a.seen(one, 900, 7, 10.1);
        a.suite_ended(one, 10.15);
        CHECK_FALSE(a.owner(headerless(900, 10.2)));
        OomRecord named = headerless(900, 10.15 + kNamedAfterEndS + 0.05);
        named.oom_memcg = named.task_memcg = "/corral-one-1a2b3c4d";
        CHECK_FALSE(a.owner(named));
        // One that names its box and is stamped just after its end (the kernel's clock ahead of
        // CLOCK_MONOTONIC, as in a VM) is the kill that ended it.
        named.mono_us = static_cast<std::uint64_t>((10.15 + 0.3) * 1e6);
        CHECK(a.owner(named) == std::optional<std::size_t>(one));
        CHECK(a.owner(headerless(900, 10.12)) == std::optional<std::size_t>(one));  // before its end: yes
    }
    SECTION("an unboxed suite (no cgroup) is matched by its session's pids even when the record has paths") {
        OomAttribution u;
        const std::size_t unboxed = u.add_suite("", 10.0, 0.1);
        u.seen(unboxed, 321, 5, 10.3);
        OomRecord r = headerless(321, 10.35);
        r.oom_memcg = r.task_memcg = "/user.slice/session-1.scope";
        CHECK(u.owner(r) == std::optional<std::size_t>(unboxed));
    }
}

TEST_CASE("classify: other constraints are the host's, an unknown memcg is not the box's", "[oom]") {
    OomRecord r;
    r.constraint = "CONSTRAINT_CPUSET";
    r.task_memcg = "/corral-a-1";
    CHECK(classify(r, "corral-a-1") == WhoseLimit::Host);
    r.constraint = "";  // only the Killed process line was seen: a memcg OOM, whose limit unknown
    r.task_memcg = "";
    CHECK(classify(r, "corral-a-1") == WhoseLimit::Unknown);
    CHECK_FALSE(has_header(r));
    CHECK(whose_limit_name(WhoseLimit::Unknown) == "unknown");
    CHECK(whose_limit_name(WhoseLimit::Own) == "own");
    CHECK(whose_limit_name(WhoseLimit::Ancestor) == "ancestor");
    CHECK(whose_limit_name(WhoseLimit::Host) == "host");
}

TEST_CASE("oom_record_to_json has the victim, attribution, sizes and times", "[oom]") {
    OomRecord r = only_record("v1_memcg.txt");
    // 1700000000 is 2023-11-14T22:13:20Z; the kill came 4817.672099 s after boot
    auto j = oom_record_to_json(r, WhoseLimit::Own, 4810.0, 1700000000.0);
    CHECK(j["victim"]["pid"] == 13692);
    CHECK(j["victim"]["comm"] == "alloc");
    CHECK(j["victim"]["uid"] == 0);
    CHECK(j["invoker"] == "alloc");
    CHECK(j["constraint"] == "CONSTRAINT_MEMCG");
    CHECK(j["oom_memcg"] == kProcessApi + "/corral-fixture-x");
    CHECK(j["task_memcg"] == kProcessApi + "/corral-fixture-x");
    CHECK(j["whose_limit"] == "own");
    CHECK(j["global"] == false);
    CHECK(j["total_vm_kb"] == 35276);
    CHECK(j["anon_rss_kb"] == 32512);
    CHECK(j["file_rss_kb"] == 1348);
    CHECK(j["shmem_rss_kb"] == 0);
    CHECK(j["memcg_usage_kb"] == 32768);
    CHECK(j["memcg_limit_kb"] == 32768);
    CHECK(j["source"] == "kmsg");
    CHECK(j["kernel_time_s"].get<double>() == Approx(4817.672099));
    CHECK(j["wall_time"] == "2023-11-14T23:33:37.672Z");
    CHECK(j["t_s"].get<double>() == Approx(7.672099));
    CHECK(j["victim_line"] == r.victim_line);
    REQUIRE(j["raw"].size() == 80);
    CHECK(j["raw"].back() == r.victim_line);

    auto g = oom_record_to_json(only_record("v2_global_vm.txt"), WhoseLimit::Host, 0, 0);
    CHECK(g["whose_limit"] == "host");
    CHECK(g["global"] == true);
    CHECK(g["constraint"] == "CONSTRAINT_NONE");
    CHECK(g["oom_memcg"] == "");
    CHECK(g["task_memcg"] == "/" + kGlobalBox);
    CHECK(g["memcg_usage_kb"].is_null());
    CHECK(g["memcg_limit_kb"].is_null());
}

TEST_CASE("the real global OOM record explains the suite's kill as a global OOM, not its own limit",
          "[oom][result]") {
    auto c = GENERATE(values<GlobalLimitCase>({
        {"no memory.max", std::nullopt},
        {"memory.max infinity", kInfinity},
        {"a memory.max it never reached", 4096ULL << 20},
    }));
    CAPTURE(c.what);
    // As the supervisor attributes it (SuiteRun::take_oom): the suite's box, the record's whose_limit.
    const OomRecord rec = only_record("v2_global_vm.txt");
    OomAttribution a;
    a.add_suite(kGlobalBox, static_cast<double>(rec.mono_us) / 1e6 - 11, 0.1);
    REQUIRE(a.owner(rec) == std::optional<std::size_t>(0));
    const WhoseLimit whose = classify(rec, kGlobalBox);
    CHECK(whose == WhoseLimit::Host);
    SuiteResult r;
    r.name = "global";
    r.signal = SIGKILL;
    r.duration_s = 10.77;
    r.limits.memory_max = c.memory_max;
    r.peak_bytes = 1924358144;  // the capture's memory.peak
    r.last_line = "allocated 1824 MiB";
    r.oom_kills = 1;
    r.oom_records.push_back(make_oom_kill(rec, whose, 0));
    CHECK(decide_verdict(r) == Verdict::OomKilled);
    // The victim's share (anon + file + shmem of its Killed process line) against a memory.max that is
    // set; the dump of a global OOM lists the whole host (corral too): none of them was seen in the box.
    const std::string share = has_memory_max(r.limits) ? "1.8 GiB of 4 GiB" : "1.8 GiB";
    CHECK(explain(r) ==
          "OOM-killed by a global OOM (CONSTRAINT_NONE): the host or container ran out of memory, not the "
          "suite's own limit; its peak was 1.8 GiB while the suite printed 'allocated 1824 MiB'; the kernel "
          "killed 127 (alloc, " + share + ").");
}

TEST_CASE("format_utc_iso_ms and the kernel-to-wall clock offset", "[oom]") {
    CHECK(format_utc_iso_ms(0) == "1970-01-01T00:00:00.000Z");
    CHECK(format_utc_iso_ms(0.9996) == "1970-01-01T00:00:01.000Z");
    CHECK(format_utc_iso_ms(1700000000.5) == "2023-11-14T22:13:20.500Z");
    CHECK(format_utc_iso_ms(951782400.25) == "2000-02-29T00:00:00.250Z");
    CHECK(format_utc_iso_ms(-0.5) == "1969-12-31T23:59:59.500Z");
    double wall = wall_clock_offset() + monotonic_now_s();
    CHECK(wall == Approx(static_cast<double>(std::time(nullptr))).margin(2.0));
}
