// Host tier: the kernel's own OOM records (/dev/kmsg here) in the report, tied to the right suite.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <regex>

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
    // Roomy enough that alloc, not corral (large under ASan), is the biggest process when it fills up.
    ParentMemcg parent("128M");
    TempDir reports("ancestor");
    // corral runs inside a parent cgroup limited to 128M; its suite has a generous memory.max of
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
