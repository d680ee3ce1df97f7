// Host tier helpers: run the real corral binary, read its report, find leftover processes and cgroups.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace host {

using namespace std::chrono_literals;
using Json = nlohmann::json;

inline constexpr std::uint64_t kMiB = 1024 * 1024;

std::string corral_bin();                   // CORRAL_BIN
std::string prog(const std::string& name);  // CORRAL_PROGS_DIR/name
std::string source_dir();                   // CORRAL_SOURCE_DIR

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
public:
    explicit TempDir(const std::string& tag = "tmp");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const noexcept { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Whole file; throws std::runtime_error naming the path when it cannot be read.
std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& content);
std::string lower(std::string s);
bool contains(const std::string& haystack, const std::string& needle);
// True in the test VM (tests/vm/run-vm.sh boots it with CORRAL_TEST_VM=1 on the kernel command line).
bool in_test_vm();
std::string join(const std::vector<std::string>& parts, const std::string& sep = ", ");

// How a process run by the harness ended.
struct Outcome {
    int exit_code = -1;   // -1 unless it exited normally
    int term_signal = 0;  // the signal that killed it, 0 if none
    bool hung = false;    // still running at the harness's limit: SIGKILLed by the harness
    double wall_s = 0;
    long max_rss_kib = 0;  // wait4's ru_maxrss: its peak RSS (or a reaped child's, when larger)
    std::string out, err;
    std::string describe() const;  // for INFO(): status, wall time, stdout and stderr (truncated)
};

struct RunOptions {
    std::string cwd;                        // empty: the test's working directory
    std::chrono::milliseconds limit = 60s;  // bounded wall time
};

// A started process: own process group, stdin /dev/null, stdout and stderr captured to files.
// Killed (SIGKILL) and reaped if still running when destroyed.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv, RunOptions opts = {});
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const noexcept { return pid_; }
    void signal(int sig) const;
    // True until it has exited (it stays unreaped, for wait()).
    bool running() const;
    // Waits until it exits or the limit (counted from the start) passes; then SIGKILLs it.
    Outcome wait();

private:
    RunOptions opts_;
    TempDir io_;
    pid_t pid_ = -1;
    std::chrono::steady_clock::time_point started_;
};

inline RunOptions within(std::chrono::milliseconds limit, std::string cwd = {}) {
    RunOptions o;
    o.cwd = std::move(cwd);
    o.limit = limit;
    return o;
}

Outcome run(const std::vector<std::string>& argv, const RunOptions& opts = {});
// run() with CORRAL_BIN prepended.
Outcome run_corral(const std::vector<std::string>& args, const RunOptions& opts = {});

// profiles/example.yaml, or when this build's programs are not the source tree's build/progs, a copy
// of it in `work` that names them; run it from source_dir().
std::string example_profile(const TempDir& work);

// {"run", "--report-dir", report_dir, options..., "--", command...}: an ad-hoc run.
std::vector<std::string> adhoc(const std::string& report_dir, const std::vector<std::string>& options,
                               const std::vector<std::string>& command);

// DIR/report.json; throws std::runtime_error when missing, not JSON, or not matching
// docs/report-schema.json (report_schema.hpp).
Json load_report(const std::string& dir);
// The suite with that name; throws std::runtime_error listing the names present.
const Json& suite(const Json& report, const std::string& name);
// Reads a field by JSON pointer ("/oom/kills"); throws naming the pointer when it is missing.
const Json& field(const Json& j, const std::string& pointer);
double num(const Json& j, const std::string& pointer);
std::string str(const Json& j, const std::string& pointer);
// The suite's captured stdout / stderr (files named by its "stdout" / "stderr" fields).
std::string suite_stdout(const Json& s, const std::string& report_dir);
std::string suite_stderr(const Json& s, const std::string& report_dir);
// The JSON for INFO(): memory samples replaced by their count, truncated.
std::string brief(const Json& j);
// The run's and the suite's notes, one a line.
std::string notes_of(const Json& report, const Json& s);

// Processes (other than this one) whose /proc/PID/cmdline contains marker.
struct ProcEntry {
    pid_t pid = 0;
    std::string comm;
    std::string cmdline;  // argv joined by spaces
};
std::vector<ProcEntry> marker_processes(const std::string& marker);
std::string describe(const std::vector<ProcEntry>& procs);
// Waits (bounded) until a process with this comm and marker in its cmdline exists.
bool wait_for_process(const std::string& marker, const std::string& comm, std::chrono::milliseconds limit);
void kill_marker_processes(const std::string& marker);

// One cgroup hierarchy the test process belongs to.
struct Hierarchy {
    std::string controllers;  // "memory", "cpu,cpuacct", "name=systemd", "" for cgroup2
    bool v2 = false;
    std::string mount;  // where the hierarchy is mounted
    std::string dir;    // this process's cgroup directory in it
};
std::vector<Hierarchy> own_hierarchies();
// The hierarchy holding the memory controller (v1 "memory" or cgroup2), or nullptr.
const Hierarchy* memory_hierarchy(const std::vector<Hierarchy>& hs);
// Directories named corral-* below this process's cgroup in every hierarchy (outermost only).
std::vector<std::string> leftover_cgroups();
// Finds the leftovers, kills what runs in them and removes them; returns what it found.
std::vector<std::string> sweep_leftover_cgroups();
// Why this host cannot run the tier ("" when it can): cgroup mounts missing or read-only.
std::string host_problem();

// Per test-case guard: markers it hands out are killed, leftover cgroups swept when it goes out
// of scope, so that one failing test does not poison the next. finish() is the final check every
// test ends with: no corral-* cgroup left and no process carrying one of the markers.
class HostCase {
public:
    HostCase() = default;
    ~HostCase();
    HostCase(const HostCase&) = delete;
    HostCase& operator=(const HostCase&) = delete;

    std::string marker(const std::string& tag);  // unique, e.g. "corral-host-hang-4242-1"
    std::string sleep_marker();                  // a unique duration for sleep(1): "3000.424201"
    void watch(const std::string& marker);       // a marker chosen elsewhere (the example profile)
    void finish();

private:
    std::vector<std::string> markers_;
};

}  // namespace host
