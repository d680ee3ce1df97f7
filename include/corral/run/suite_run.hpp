// One suite from start to an empty box: its box, main process, output, samples, timeout, hook
// and the end of its tree, driven by the run's event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "corral/base/fd.hpp"
#include "corral/box/backend.hpp"
#include "corral/oom/oom_record.hpp"
#include "corral/report/result.hpp"
#include "corral/run/event_loop.hpp"
#include "corral/run/output.hpp"
#include "corral/run/supervisor.hpp"

namespace corral {

class SuiteRun;

// What the suites of one run share: the backend, the options, the loop and the OOM records.
class Runner {
public:
    Runner(Backend& backend, const RunOptions& opts) : backend(backend), opts(opts) {}

    Backend& backend;
    const RunOptions& opts;
    EventLoop loop;
    std::vector<std::unique_ptr<SuiteRun>> runs;
    std::vector<nlohmann::json> run_oom_records;

    // Reads the OOM source and hands every completed record to the suite it belongs to.
    void poll_oom();
    // Registers fd with the loop and records it in `owned`, the caller's list of its fds.
    void watch(int fd, std::uint32_t events, EventLoop::Handler h, std::vector<int>& owned);
};

// One suite from start to an empty box.
class SuiteRun {
public:
    enum class Phase { Running, Hook, Grace, Killing, Done };

    SuiteRun(Runner& runner, const SuiteSpec& spec, SuiteResult& result) : r_(runner), spec_(spec), res_(result) {}
    ~SuiteRun();

    void start();
    void interrupt();
    void kill_now();
    bool done() const { return phase_ == Phase::Done; }
    bool owns_pid(pid_t p) const { return p == pid_ || p == hook_pid_; }
    bool started() const { return started_; }
    // Attaches the record when it belongs to this suite (its box, or a pid seen in it).
    bool take_oom(const OomRecord& rec);

private:
    void fail_launch(const std::string& what);
    void on_main_exit();
    void on_deadline();
    void on_sample();
    void on_hook_exit();
    void start_hook();
    void begin_termination();
    void check_done();
    void finish();
    OutputStream make_stream(UniqueFd read_end, const char* ext, int live_fd);
    void watch_stream(OutputStream& s);
    // Unregisters one of this run's fds (and forgets it, so that a later finish() cannot
    // unregister the same number after it was reused by another suite).
    void unwatch(int fd);

    Runner& r_;
    const SuiteSpec& spec_;
    SuiteResult& res_;
    Phase phase_ = Phase::Running;
    std::unique_ptr<Box> box_;
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    bool main_done_ = false;
    std::optional<OutputStream> out_, err_;
    std::optional<Timer> sample_timer_, deadline_;
    std::chrono::steady_clock::time_point t0_;
    pid_t hook_pid_ = -1;
    UniqueFd hook_pidfd_;
    std::chrono::steady_clock::time_point hook_t0_;
    std::vector<int> watched_;
    bool started_ = false;
    std::string box_name_;         // "" when unboxed
    std::set<pid_t> pids_seen_;    // every pid seen in the box, for OOM attribution
    double start_mono_s_ = 0;
    bool oom_group_done_ = false;  // emulated memory.oom_group fired
    std::uint64_t oom_kills_seen_ = 0;  // the box's OOM kill counter at the last sample
};

}  // namespace corral
