// Host tier: the kernel's own OOM records (/dev/kmsg here) in the report, tied to the right suite.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "harness.hpp"

using namespace host;

namespace {

// "started child 4483" → 4483
int started_child_pid(const std::string& out) {
    std::smatch m;
    if (std::regex_search(out, m, std::regex("started child ([0-9]+)"))) return std::stoi(m[1]);
    return -1;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A memory cgroup below the test's own (v1 memory.limit_in_bytes, v2 memory.max), removed with
// what is below it (on v2, corral's corral-launcher leaf) once its processes are gone.
class ParentMemcg {
public:
    explicit ParentMemcg(const std::string& limit) {
        auto hs = own_hierarchies();
        const Hierarchy* mem = memory_hierarchy(hs);
        if (!mem) throw std::runtime_error("no memory hierarchy");
        dir_ = mem->dir + "/ancestor-" + std::to_string(::getpid());
        if (::mkdir(dir_.c_str(), 0755) < 0) throw std::runtime_error("mkdir " + dir_);
        write_text(dir_ + (mem->v2 ? "/memory.max" : "/memory.limit_in_bytes"), limit);
    }
    ~ParentMemcg() {
        ::rmdir((dir_ + "/corral-launcher").c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
};

// A /proc/meminfo value in KiB ("MemTotal:  2014152 kB"), or nothing when the key is missing.
std::optional<std::uint64_t> meminfo_kib(const std::string& key) {
    std::istringstream in(read_text("/proc/meminfo"));
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string name;
        std::uint64_t kib = 0;
        if (words >> name >> kib && name == key + ":") return kib;
    }
    return std::nullopt;
}

struct VmMemory {
    std::uint64_t total_kib = 0, available_kib = 0;
};

// The test VM's memory; anywhere else the test FAILs here, with the reason, before it allocates
// anything. Filling the memory of a real machine (a shared host, a CI runner) would let its OOM
// killer take whatever it picks, so two things must say "the test VM": the kernel command line that
// tests/vm/run-vm.sh boots with (CORRAL_TEST_VM=1: unlike an environment variable, a real machine
// has it only if booted with it) and a MemTotal below 4 GiB (the VM has 2048 MiB).
VmMemory test_vm_memory() {
    if (!in_test_vm())
        FAIL(
            "refusing to run: this test fills the machine's memory until the kernel's global OOM killer "
            "kills; it runs only in the test VM (ctest -L vm), which tests/vm/run-vm.sh boots with "
            "CORRAL_TEST_VM=1 on the kernel command line, and /proc/cmdline here has no CORRAL_TEST_VM=1");
    const auto total = meminfo_kib("MemTotal");
    const auto available = meminfo_kib("MemAvailable");
    if (!total || !available)
        FAIL("refusing to run: /proc/meminfo has no MemTotal or MemAvailable to size the allocation from");
    constexpr std::uint64_t k4GiBInKiB = 4ULL * 1024 * 1024;
    if (*total >= k4GiBInKiB)
        FAIL("refusing to run: MemTotal is " << *total / 1024
                                             << " MiB; the test VM has 2048 MiB (below 4 GiB), so this is "
                                                "not it, whatever /proc/cmdline says");
    return {*total, *available};
}

// One row of the task table of a global OOM report ("[    126]     0   126     2660     1597
// 57344        0         -1000 corral"): pid, oom_score_adj and name.
struct TaskRow {
    int pid = 0;
    int oom_score_adj = 0;
    std::string name;
};

std::vector<TaskRow> task_table(const Json& raw) {
    static const std::regex row(
        R"(^\[ *([0-9]+)\] +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +(-?[0-9]+) (.+)$)");
    std::vector<TaskRow> rows;
    for (const auto& line : raw) {
        std::smatch m;
        const std::string text = line.get<std::string>();
        if (std::regex_match(text, m, row)) rows.push_back({std::stoi(m[1]), std::stoi(m[2]), m[3]});
    }
    return rows;
}

}  // namespace

TEST_CASE("an OOM-killed child's kernel record lands in its own suite, not in the parallel one",
          "[host][oom][records]") {
    HostCase hc;
    TempDir work("oomrec");
    const std::string profile = work.file("two.yaml");
    write_text(profile,
               "defaults:\n"
               "  timeout: 60s\n"
               "suites:\n"
               "  - name: victim\n"
               "    command: [" + prog("child_alloc") + ", '512']\n"
               "    memory:\n"
               "      max: 64M\n"
               "  - name: bystander\n"
               "    command: [sh, -c, 'sleep 0.5; echo bystander done']\n"
               "    memory:\n"
               "      max: 256M\n");
    TempDir reports("oomrec-reports");
    auto r = run_corral({"run", "--report-dir", reports.path(), "--jobs", "2", profile}, within(60s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    CHECK(str(report, "/oom/source") == "kmsg");

    const Json& v = suite(report, "victim");
    CHECK(str(v, "/verdict") == "oom-killed");
    const int child = started_child_pid(suite_stdout(v, reports.path()));
    REQUIRE(child > 0);
    const Json& records = field(v, "/oom/records");
    REQUIRE(records.size() == 1);
    const Json& rec = records[0];
    CHECK(num(rec, "/victim/pid") == child);  // the child, not the main process
    CHECK(str(rec, "/victim/comm") == "child_alloc");
    CHECK(str(rec, "/whose_limit") == "own");
    CHECK(str(rec, "/constraint") == "CONSTRAINT_MEMCG");
    CHECK(str(rec, "/source") == "kmsg");
    CHECK_THAT(str(rec, "/oom_memcg"), Catch::Contains("/corral-victim-"));
    CHECK(str(rec, "/task_memcg") == str(rec, "/oom_memcg"));
    CHECK(num(rec, "/memcg_limit_kb") == 65536);
    CHECK(num(rec, "/anon_rss_kb") > 32 * 1024);
    CHECK(num(rec, "/t_s") >= 0);
    CHECK(num(rec, "/t_s") <= num(v, "/duration_s") + 1);
    CHECK_THAT(str(rec, "/wall_time"), Catch::Matches("20[0-9]{2}-[0-9]{2}-[0-9]{2}T.*Z"));
    CHECK(field(rec, "/raw").size() >= 3);
    CHECK_THAT(str(rec, "/victim_line"),
               Catch::StartsWith("Memory cgroup out of memory: Killed process " + std::to_string(child) +
                                 " (child_alloc)"));
    CHECK_THAT(r.err, Catch::Contains("Killed process " + std::to_string(child) + " (child_alloc) anon-rss"));

    const Json& b = suite(report, "bystander");
    CHECK(str(b, "/verdict") == "passed");
    CHECK(field(b, "/oom/records").empty());
    CHECK(num(b, "/oom/kills") == 0);
    hc.finish();
}

TEST_CASE("an OOM kill by an ancestor cgroup's limit is attributed as 'ancestor'", "[host][oom][records]") {
    HostCase hc;
    // Roomy enough that alloc, not corral (large under ASan), is the biggest process when it fills up:
    // at 128M the sanitized pass saw corral killed with alloc at 72 MiB.
    ParentMemcg parent("320M");
    TempDir reports("ancestor");
    // corral runs inside a parent cgroup limited to 320M; its suite has a generous memory.max of
    // its own, so it is the parent's limit that the kernel enforces.
    std::string cmd = "echo $$ > " + parent.dir() + "/cgroup.procs && exec " + corral_bin() +
                      " run --report-dir " + reports.path() +
                      " --name anc --memory-max 1G --timeout 60s -- " + prog("alloc") + " 512";
    auto r = run({"sh", "-c", cmd}, within(60s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "anc");
    CHECK(str(s, "/verdict") == "oom-killed");
    const Json& records = field(s, "/oom/records");
    REQUIRE(records.size() >= 1);
    CHECK(str(records[0], "/whose_limit") == "ancestor");
    CHECK(ends_with(str(records[0], "/oom_memcg"), "/ancestor-" + std::to_string(::getpid())));
    CHECK_THAT(str(records[0], "/task_memcg"), Catch::Contains("/corral-anc-"));
    CHECK_THAT(str(s, "/explanation"), Catch::Contains("ancestor cgroup's limit"));
    hc.finish();
}

TEST_CASE("an OOM kill outside every suite is never attached to a suite", "[host][oom][records]") {
    HostCase hc;
    ParentMemcg other("32M");
    TempDir reports("unrelated");
    // The suite waits while an unrelated process, in a cgroup of its own, is OOM-killed.
    std::string outsider = "echo $$ > " + other.dir() + "/cgroup.procs && exec " + prog("alloc") + " 256";
    Child killer({"sh", "-c", "sleep 0.3; " + outsider}, within(30s));
    auto r = run_corral(adhoc(reports.path(), {"--name", "calm", "--memory-max", "256M", "--timeout", "30s"},
                              {"sh", "-c", "sleep 1.5; echo calm done"}),
                        within(30s));
    auto k = killer.wait();
    INFO(r.describe());
    INFO(k.describe());
    CHECK(k.term_signal == SIGKILL);  // the outsider really was OOM-killed meanwhile
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "calm");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(field(s, "/oom/records").empty());
    hc.finish();
}

// Only in the test VM (tests/vm): the host tier's registration leaves out [v2] and [vm-only], and the
// test refuses itself anywhere /proc/cmdline and /proc/meminfo do not say "the test VM".
TEST_CASE(
    "vm only: a suite without memory.max that fills the VM's memory is killed by a global OOM, "
    "not corral or the test",
    "[host][oom][records][v2][vm-only]") {
    const VmMemory vm = test_vm_memory();  // first: nothing is allocated outside the VM
    HostCase hc;
    TempDir reports("global");
    // Twice the VM's memory, in 16 MiB steps: without swap it can never finish, and the suite has no
    // memory.max, so the kernel's global OOM killer must end it.
    const std::uint64_t size_mib = 2 * vm.total_kib / 1024;
    INFO("MemTotal " << vm.total_kib << " kB, MemAvailable " << vm.available_kib << " kB: alloc " << size_mib
                     << " MiB");
    const std::string script =
        "echo \"pid $$\"; exec " + prog("alloc") + " " + std::to_string(size_mib) + " 16";
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), "--name", "global", "--timeout", "90s",
                  "--", "sh", "-c", script},
                 within(100s));
    const pid_t corral_pid = corral.pid();
    auto r = corral.wait();
    INFO(r.describe());
    CHECK(r.term_signal == 0);  // corral (oom_score_adj -1000) was not the victim
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "global");
    CHECK(str(s, "/verdict") == "oom-killed");
    CHECK(field(s, "/limits/memory_max_bytes").is_null());
    CHECK(num(s, "/oom/kills") == 1);
    CHECK(str(s, "/signal") == "SIGKILL");
    const std::string out = suite_stdout(s, reports.path());
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("^pid ([0-9]+)\n")));
    const int alloc_pid = std::stoi(m[1]);
    CHECK_FALSE(contains(out, "done:"));  // it never finished

    const Json& records = field(s, "/oom/records");
    REQUIRE(records.size() == 1);
    const Json& rec = records[0];
    CHECK(str(rec, "/constraint") == "CONSTRAINT_NONE");
    CHECK(field(rec, "/global") == true);
    CHECK(str(rec, "/whose_limit") == "host");
    CHECK(str(rec, "/oom_memcg").empty());
    CHECK(field(rec, "/memcg_limit_kb").is_null());
    CHECK_THAT(str(rec, "/task_memcg"), Catch::Contains("/corral-global-"));
    // The victim is the allocator: not corral, not this test.
    CHECK(num(rec, "/victim/pid") == alloc_pid);
    CHECK(num(rec, "/victim/pid") != corral_pid);
    CHECK(num(rec, "/victim/pid") != ::getpid());
    CHECK(str(rec, "/victim/comm") == "alloc");
    CHECK(num(rec, "/anon_rss_kb") > static_cast<double>(vm.available_kib) / 2);
    CHECK_THAT(str(rec, "/victim_line"),
               Catch::StartsWith("Out of memory: Killed process " + std::to_string(alloc_pid) + " (alloc)"));
    std::string raw_text;
    for (const auto& line : field(rec, "/raw")) raw_text += line.get<std::string>() + "\n";
    CHECK_THAT(raw_text, Catch::Contains("Mem-Info:"));
    CHECK_THAT(raw_text, Catch::Contains("oom-kill:constraint=CONSTRAINT_NONE,"));
    CHECK_THAT(raw_text, Catch::Contains(",global_oom,"));
    // The kernel's task table shows why: corral protected at -1000, the allocator at 0.
    bool saw_corral = false, saw_alloc = false;
    for (const auto& row : task_table(field(rec, "/raw"))) {
        if (row.pid == corral_pid) {
            saw_corral = true;
            CHECK(row.name == "corral");
            CHECK(row.oom_score_adj == -1000);
        }
        if (row.pid == alloc_pid) {
            saw_alloc = true;
            CHECK(row.oom_score_adj == 0);
        }
    }
    CHECK(saw_corral);
    CHECK(saw_alloc);

    CHECK_THAT(
        str(s, "/explanation"),
        Catch::StartsWith("OOM-killed by a global OOM (CONSTRAINT_NONE): the host or container ran out "
                          "of memory, not the suite's own limit"));
    CHECK_THAT(r.err, Catch::Contains("kernel: Out of memory: Killed process " + std::to_string(alloc_pid) +
                                      " (alloc) anon-rss"));
    CHECK_THAT(r.err, Catch::Contains("(host limit)"));
    hc.finish();
}
