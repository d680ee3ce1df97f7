// corral_bench: what corral adds per suite, as ratios to fork + exec + wait of /bin/true measured
// in the same run. Absolute times depend on the machine; the ratios are what to compare.
// Needs root and a cgroup v1 (or hybrid) memory hierarchy, like `corral run`.
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/backend.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/box/make_backend.hpp"
#include "corral/profile/profile.hpp"
#include "corral/report/result.hpp"
#include "corral/run/run_lock.hpp"
#include "corral/run/supervisor.hpp"

namespace {

using namespace corral;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMemoryMax = 64ull << 20;
constexpr int kParallelSuites = 20;
constexpr int kParallelJobs = 4;

// Set by SIGINT/SIGTERM outside run_suites (which handles them itself): stops at the next sample so
// that every cgroup and temp dir is still removed on the way out.
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

struct Stats {
    int n = 0;
    double median_ms = 0, p90_ms = 0;
};

Stats summarize(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    Stats s;
    s.n = static_cast<int>(ms.size());
    size_t mid = ms.size() / 2;
    s.median_ms = ms.size() % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
    size_t rank = static_cast<size_t>(std::ceil(0.9 * static_cast<double>(ms.size())));  // nearest rank
    s.p90_ms = ms[std::max<size_t>(rank, 1) - 1];
    return s;
}

// Calls fn() `warmup` times untimed, then n times timed; each sample is divided by per_call (the
// number of suites one call runs).
template <class F>
Stats measure(int n, int warmup, int per_call, F&& fn) {
    for (int i = 0; i < warmup; ++i) fn();
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        if (g_stop) throw Error("interrupted");
        auto t0 = Clock::now();
        fn();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / per_call);
    }
    return summarize(std::move(ms));
}

// A mkdtemp directory, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "corral-bench.XXXXXX").string();
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (::mkdtemp(buf.data()) == nullptr) throw_errno("mkdtemp " + tmpl);
        path_ = buf.data();
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

// A v1 memory cgroup made with plain mkdir; removed by remove(), or by the destructor when a step
// in between threw.
class RawCgroup {
public:
    explicit RawCgroup(std::string dir) : dir_(std::move(dir)) {
        if (::mkdir(dir_.c_str(), 0755) < 0) throw_errno("mkdir " + dir_);
    }
    ~RawCgroup() {
        if (!dir_.empty()) ::rmdir(dir_.c_str());
    }
    RawCgroup(const RawCgroup&) = delete;
    RawCgroup& operator=(const RawCgroup&) = delete;
    const std::string& dir() const noexcept { return dir_; }
    void remove() {
        if (::rmdir(dir_.c_str()) < 0) throw_errno("rmdir " + dir_);
        dir_.clear();
    }

private:
    std::string dir_;
};

// Row 1: fork, exec /bin/true, wait for it.
void fork_exec_wait() {
    char arg0[] = "/bin/true";
    char* const argv[] = {arg0, nullptr};
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        ::execv(arg0, argv);
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno(fmt::format("waitpid {}", pid));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(fmt::format("/bin/true did not exit 0 (wait status {:#x})", status));
}

SuiteSpec true_suite(const std::string& name) {
    SuiteSpec s;
    s.name = name;
    s.argv = {"/bin/true"};
    s.command_text = "/bin/true";
    s.limits.memory_max = kMemoryMax;
    s.sample_interval = std::chrono::milliseconds(100);
    s.where.file = "corral_bench";
    validate_suite(s);
    return s;
}

// Rows 4 and 5: run_suites, and every suite must have passed (a failing run measures nothing useful).
void run_checked(Backend& backend, const std::vector<SuiteSpec>& suites, const RunOptions& opts) {
    auto outcome = run_suites(backend, suites, opts);
    if (outcome.interrupted) throw Error("interrupted");
    for (const auto& r : outcome.results)
        if (r.verdict != Verdict::Passed)
            throw Error(
                fmt::format("suite '{}' ended {}: {}", r.name, verdict_name(r.verdict), r.explanation));
}

struct Row {
    std::string label;
    Stats stats;
};

void print_table(const std::vector<Row>& rows) {
    const double base = rows.front().stats.median_ms;
    std::cout << fmt::format("{:<44} {:>5} {:>11} {:>10} {:>8}\n", "row", "n", "median ms", "p90 ms",
                             "ratio");
    std::cout << std::string(44 + 5 + 11 + 10 + 8 + 4, '-') << "\n";
    for (const auto& r : rows)
        std::cout << fmt::format("{:<44} {:>5} {:>11.3f} {:>10.3f} {:>7.2f}x\n", r.label, r.stats.n,
                                 r.stats.median_ms, r.stats.p90_ms, r.stats.median_ms / base);
    std::cout << fmt::format(
        "baseline: fork + exec + wait of /bin/true, median {:.3f} ms; ratio = row median / baseline median; "
        "the {}-suite row is wall time per run / {} (jobs = {})\n",
        base, kParallelSuites, kParallelSuites, kParallelJobs);
}

int bench_main(int argc, char** argv) {
    CLI::App app{"corral_bench: corral's per-suite overhead as ratios to fork + exec + wait of /bin/true",
                 "corral_bench"};
    int iterations = 0;
    bool quick = false;
    app.add_option("--iterations", iterations,
                   "Samples per row (default 200 for the small rows, 50 for the run rows)")
        ->check(CLI::PositiveNumber);
    app.add_flag("--quick", quick, "Fewer samples (50 small, 10 run); --iterations still wins");
    CLI11_PARSE(app, argc, argv);

    const int small_n = iterations > 0 ? iterations : quick ? 50 : 200;
    const int run_n = iterations > 0 ? iterations : quick ? 10 : 50;
    const int small_warmup = std::min(10, small_n);
    const int run_warmup = std::min(3, run_n);

    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    CgroupLayout layout = detect_layout();
    const Hierarchy* mem = layout.find("memory");
    if (!mem) throw Error("no cgroup v1 memory hierarchy for this process: the raw cgroup row needs one");
    RunLock lock;
    std::string why;
    auto backend = with_context("setting up cgroups", [&] { return make_backend(lock.id(), false, why); });
    TempDir tmp;
    std::cerr << fmt::format(
        "corral_bench: {} backend, run id {}, memory cgroup {}, {} CPUs, reports in {}\n", backend->name(),
        lock.id(), mem->own_dir, std::thread::hardware_concurrency(), tmp.path());

    std::vector<Row> rows;
    rows.push_back({"baseline: fork+exec+wait /bin/true", measure(small_n, small_warmup, 1, fork_exec_wait)});

    const std::string raw_dir = fmt::format("{}/bench-raw-{}", mem->own_dir, ::getpid());
    const std::string limit = std::to_string(kMemoryMax);
    rows.push_back({"raw cgroup: mkdir+memory.limit+rmdir", measure(small_n, small_warmup, 1, [&] {
                        RawCgroup cg(raw_dir);
                        write_file(cg.dir() + "/memory.limit_in_bytes", limit);
                        cg.remove();
                    })});

    Limits limits;
    limits.memory_max = kMemoryMax;
    limits.tasks_max = 100;
    rows.push_back({"corral box: create+limits+destroy", measure(small_n, small_warmup, 1, [&] {
                        auto box = backend->create_box("bench-box");
                        box->apply_limits(limits);
                    })});

    RunOptions opts;
    opts.report_dir = tmp.path() + "/reports";
    make_dirs(opts.report_dir);
    const std::vector<SuiteSpec> one{true_suite("bench-one")};
    rows.push_back({"corral run: /bin/true, 1 suite",
                    measure(run_n, run_warmup, 1, [&] { run_checked(*backend, one, opts); })});

    std::vector<SuiteSpec> many;
    for (int i = 0; i < kParallelSuites; ++i) many.push_back(true_suite(fmt::format("bench-par-{}", i)));
    RunOptions par = opts;
    par.jobs = kParallelJobs;
    rows.push_back(
        {fmt::format("corral run: {} x /bin/true, jobs {} (/suite)", kParallelSuites, kParallelJobs),
         measure(run_n, run_warmup, kParallelSuites, [&] { run_checked(*backend, many, par); })});

    print_table(rows);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return bench_main(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "corral_bench: error: " << e.what() << "\n";
        return 1;
    }
}
