// Host tier, pure cgroup v2 only (tag [v2]): how corral prepares its own cgroup. These run in the VM
// tier (tests/vm, ctest -L vm); the host tier's ctest registration leaves them out on the v1 machines.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "harness.hpp"

using namespace host;

namespace {

// This process's directory in the unified hierarchy; fails the test (with the reason) elsewhere.
std::string unified_dir() {
    auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    if (!mem || !mem->v2)
        FAIL("this test needs a pure cgroup v2 machine (memory controller in cgroup2); it runs in the VM tier: "
             "ctest -L vm");
    return mem->dir;
}

// A cgroup made for one test and removed (with anything below it) when the test ends.
class TestCgroup {
public:
    explicit TestCgroup(std::string path) : path_(std::move(path)) {
        std::filesystem::create_directories(path_);
    }
    ~TestCgroup() {
        // Deepest first; corral's leaf and boxes are empty once corral has exited.
        std::vector<std::string> dirs;
        for (auto it = std::filesystem::recursive_directory_iterator(path_, std::filesystem::directory_options::skip_permission_denied, ec_);
             it != std::filesystem::recursive_directory_iterator(); it.increment(ec_))
            if (it->is_directory(ec_)) dirs.push_back(it->path());
        for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) ::rmdir(d->c_str());
        ::rmdir(path_.c_str());
        // and the first level made for it
        auto parent = std::filesystem::path(path_).parent_path();
        if (parent.filename().string().rfind("leaftest-", 0) == 0) ::rmdir(parent.c_str());
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::error_code ec_;
};

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

TEST_CASE("v2: corral alone in a cgroup without controllers moves into a corral-launcher leaf and enables them "
          "along the way",
          "[host][v2]") {
    HostCase hc;
    const std::string own = unified_dir();
    // Two levels, neither with a controller enabled: corral must enable memory, pids and cpu in
    // leaftest-N (the level above its own) and, after moving itself into a leaf, in its own cgroup.
    const std::string top = own + "/leaftest-" + std::to_string(::getpid());
    TestCgroup cg(top + "/inner");
    CHECK(trimmed(read_text(top + "/cgroup.subtree_control")).empty());
    TempDir reports("leaf");
    const std::string script = "echo $$ > " + sh_quote(cg.path() + "/cgroup.procs") + " && exec " +
                               sh_quote(corral_bin()) + " run -v --report-dir " + sh_quote(reports.path()) +
                               " --name leaf --memory-max 64M --tasks-max 50 --cpu 50% -- " + sh_quote(prog("alloc")) +
                               " 512";
    auto r = run({"sh", "-c", script}, within(60s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("moved corral (pid"));
    CHECK_THAT(r.err, Catch::Contains(cg.path() + "/corral-launcher"));
    CHECK_THAT(r.err, Catch::Contains("enabled the memory controller in " + top + "/cgroup.subtree_control"));

    auto report = load_report(reports.path());
    INFO(brief(report));
    CHECK(str(report, "/backend") == "cgroup-v2");
    CHECK_THAT(join(field(report, "/notes").get<std::vector<std::string>>()), Catch::Contains("corral-launcher"));
    const Json& s = suite(report, "leaf");
    CHECK(str(s, "/verdict") == "oom-killed");
    CHECK_THAT(str(s, "/cgroup"), Catch::StartsWith(cg.path() + "/corral-leaf-"));
    for (const char* c : {"memory", "pids", "cpu"}) {
        CHECK_THAT(read_text(top + "/cgroup.subtree_control"), Catch::Contains(c));
        CHECK_THAT(read_text(cg.path() + "/cgroup.subtree_control"), Catch::Contains(c));
    }
    // corral has exited: its leaf is empty and no box is left.
    CHECK(read_text(cg.path() + "/corral-launcher/cgroup.procs").empty());
    for (const auto& e : std::filesystem::directory_iterator(cg.path()))
        if (e.is_directory()) CHECK(e.path().filename() == "corral-launcher");
    hc.finish();
}

TEST_CASE("v2: a cgroup shared with other processes is an error naming them, and nothing is moved",
          "[host][v2]") {
    HostCase hc;
    const std::string own = unified_dir();
    TestCgroup cg(own + "/leaftest-" + std::to_string(::getpid()) + "-shared");
    TempDir reports("shared");
    const std::string sleeper = hc.sleep_marker();
    // The shell and a sleep share the cgroup with corral.
    const std::string script = "echo $$ > " + sh_quote(cg.path() + "/cgroup.procs") + " && { sleep " + sleeper +
                               " & } && " + sh_quote(corral_bin()) + " run --report-dir " + sh_quote(reports.path()) +
                               " --memory-max 64M -- true; rc=$?; kill $!; exit $rc";
    auto r = run({"sh", "-c", script}, within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Catch::Contains("holds other processes besides corral"));
    CHECK_THAT(r.err, Catch::Contains("(sh, state S)"));
    CHECK_THAT(r.err, Catch::Contains("(sleep, state S)"));
    CHECK_FALSE(std::filesystem::exists(cg.path() + "/corral-launcher"));
    CHECK(trimmed(read_text(cg.path() + "/cgroup.subtree_control")).empty());
    hc.finish();
}

// CORRAL_COMPAT=old-kernel makes corral take the paths it takes on kernels before 5.7 / 5.14 / 5.19:
// fork + cgroup.procs instead of clone3(CLONE_INTO_CGROUP), the freeze-and-signal loop instead of
// cgroup.kill, and the peak from samples instead of memory.peak.
TEST_CASE("v2: the fallbacks for older kernels still box, measure and end the whole tree", "[host][v2]") {
    HostCase hc;
    unified_dir();
    SECTION("OOM kill: started through cgroup.procs, peak from samples") {
        TempDir reports("compat-oom");
        auto r = run({"env", "CORRAL_COMPAT=old-kernel", corral_bin(), "run", "--report-dir", reports.path(),
                      "--name", "oom", "--memory-max", "64M", "--", prog("alloc"), "512"},
                     within(60s));
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        auto report = load_report(reports.path());
        INFO(brief(report));
        const Json& s = suite(report, "oom");
        CHECK(str(s, "/verdict") == "oom-killed");
        CHECK(str(s, "/start_method") == "cgroup.procs");
        // No memory.peak: the samples alone (every 100ms) would miss the 64 MiB of a 40 ms life;
        // memory.events says the limit was reached, so the peak is the limit.
        CHECK(str(s, "/memory/peak_source") == "memory.max, reached (memory.events max)");
        CHECK(num(s, "/memory/peak_bytes") == 64.0 * kMiB);
        CHECK_THAT(str(s, "/explanation"), Catch::Contains("at 64 MiB"));
        CHECK(num(s, "/memory/events/oom_kill") >= 1);
        CHECK_THAT(join(field(s, "/notes").get<std::vector<std::string>>()), Catch::Contains("memory.peak: not available"));
    }
    SECTION("timeout: a SIGTERM-ignoring tree with a daemon is ended without cgroup.kill") {
        const std::string marker = hc.marker("compat-hang");
        TempDir reports("compat-hang");
        auto r = run({"env", "CORRAL_COMPAT=old-kernel", corral_bin(), "run", "--report-dir", reports.path(),
                      "--name", "hang", "--memory-max", "128M", "--timeout", "1s", "--kill-grace", "1s", "--",
                      prog("hang_daemon"), marker},
                     within(30s));
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        auto report = load_report(reports.path());
        INFO(brief(report));
        const Json& s = suite(report, "hang");
        CHECK(str(s, "/verdict") == "timeout");
        CHECK(num(s, "/kill_signalled") >= 2);  // the main process's tree and the daemon
        CHECK(marker_processes(marker).empty());
    }
    hc.finish();
}
