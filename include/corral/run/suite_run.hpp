// One suite from start to a released box: its box, main process, output, samples, timeout, hook and
// the end of its tree, driven by the run's event loop. Nothing here waits: each step that takes time
// (a systemd job, a kill round, a box that unloads) arms a timer or waits for an fd.
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
#include "corral/oom/attribution.hpp"
#include "corral/oom/oom_record.hpp"
#include "corral/report/growth.hpp"
#include "corral/report/markers.hpp"
#include "corral/report/result.hpp"
#include "corral/run/event_loop.hpp"
#include "corral/run/line_log.hpp"
#include "corral/run/live_output.hpp"
#include "corral/run/output.hpp"
#include "corral/run/peak_processes.hpp"
#include "corral/run/progress.hpp"
#include "corral/run/spawn.hpp"
#include "corral/run/stall.hpp"
#include "corral/run/supervisor.hpp"

namespace corral {

class SuiteRun;

// Seconds from t0 to now on the steady clock (a suite's and its hook's times).
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What the suites of one run share: the loop, the options, corral's own output, the OOM records.
class Runner {
public:
    Runner(Backend& backend, const RunOptions& opts);

    Backend& backend;
    const RunOptions& opts;
    EventLoop loop;
    LiveOutput live_out, live_err;  // corral's stdout and stderr, never blocking the loop
    std::vector<std::unique_ptr<SuiteRun>> runs;
    std::vector<nlohmann::json> run_oom_records;
    OomAttribution attribution;
    std::vector<OomRecord> pending_headerless;
    bool boxes_left = false;  // a box could not be removed: a later run must find it stale
    Progress* progress = nullptr;  // the live progress output (null: none)

    // Reads the OOM source and hands every completed record to the suite it belongs to.
    void poll_oom();
    // Records without their header that no suite's pid sightings claimed: given to the one suite whose
    // box counted an OOM kill around their time (and has fewer records than kills), once that is known.
    void claim_pending();
    // Registers fd with the loop and records it in `owned`, the caller's list of its fds.
    void watch(int fd, std::uint32_t events, EventLoop::Handler h, std::vector<int>& owned);
    // A message from corral itself on its stderr ("corral: …\n").
    void say(const std::string& line);
};

class SuiteRun {
public:
    enum class Phase { Entering, Running, Hook, Grace, Killing, Releasing, Done };

    SuiteRun(Runner& runner, const SuiteSpec& spec, SuiteResult& result);
    ~SuiteRun();
    SuiteRun(const SuiteRun&) = delete;
    SuiteRun& operator=(const SuiteRun&) = delete;

    void start();
    // First SIGINT/SIGTERM to corral: end the tree (SIGTERM, grace, SIGKILL); the hook gets SIGTERM.
    void interrupt();
    // Second one: SIGKILL at once, the hook too.
    void kill_now();
    bool done() const { return phase_ == Phase::Done; }
    bool started() const { return started_; }
    // Launched and not yet ended (its tree may be being ended): what the progress output shows.
    bool running() const {
        return phase_ == Phase::Running || phase_ == Phase::Hook || phase_ == Phase::Grace || phase_ == Phase::Killing;
    }
    SuiteStatus status() const;
    // The backend has dispatched events: a box waiting for its manager (a job, an unload) may go on.
    void on_backend_event(Backend* backend);
    // Our own children (main process, held child, hook): the orphan reaper leaves them alone.
    bool owns_pid(pid_t p) const { return p > 0 && (p == pid_ || p == hook_pid_); }
    // A kernel record the attribution gave to this suite.
    void take_oom(const OomRecord& rec);
    // Its entry in the run's OOM attribution; nullopt before its box was made.
    std::optional<std::size_t> attribution_id() const { return attribution_id_; }
    // Whether the box's OOM kill count rose in the sample interval around kill_s (kernel monotonic
    // seconds); nullopt while no sample after it was taken.
    std::optional<bool> kills_rose_around(double kill_s) const;
    // The box counted more OOM kills than records came for it.
    bool lacks_records() const;
    // The box's cgroup directory name ("" when unboxed or before its box was made).
    const std::string& box_name() const { return box_name_; }

private:
    // Runs a step of this suite; an error in it ends this suite (its verdict so far, or launch-error,
    // with the error in its notes), never the run.
    template <class F>
    void guarded(const char* what, F&& step);
    void fail(const std::string& what, const std::string& error);

    void try_enter();
    void launch();
    void on_exec_pipe();
    void on_main_exit();
    void on_deadline();
    // After each sample: a suite quiet (no output, no CPU time) for its stall_timeout ends as a
    // stalled timeout (suite_stall.cpp).
    void check_stall();
    void on_hook_deadline();
    void on_sample();
    void on_step_timer();
    void on_hook_exit();
    void start_hook();
    void signal_hook(int sig);
    void begin_termination();
    void begin_kill();
    void kill_round();
    void check_done();
    void finish();
    void release_step();
    OutputStream make_stream(UniqueFd read_end, const char* ext, LiveOutput& live);
    void watch_stream(OutputStream& s);
    // Unregisters one of this run's fds (and forgets it, so that a later finish() cannot
    // unregister the same number after it was reused by another suite).
    void unwatch(int fd);
    void unwatch_all();
    void note(const std::string& n);
    // A line (or the partial line) the suite printed.
    void on_text(std::string_view text, bool partial);
    // A test boundary in the output: a sample of its own (at most one a millisecond), then the growth
    // analysis learns of it.
    void on_marker(const MarkerEvent& ev);
    // A memory sample at t (seconds since the start): the series, the peak, the growth analysis.
    void record_memory(double t, std::uint64_t bytes);
    void log_oom_counters(std::uint64_t kills, std::uint64_t own_limit_hits, std::uint64_t bytes, double t_mono);
    // Whose limit each record without its header was (its box's counters, the nearest complete record).
    void resolve_headerless();

    Runner& r_;
    const SuiteSpec& spec_;
    SuiteResult& res_;
    Phase phase_ = Phase::Entering;
    Backend* backend_ = nullptr;
    std::unique_ptr<Box> box_;
    std::optional<HeldChild> held_;  // between fork and release
    std::optional<ExecWatch> exec_;  // after release, until exec is known to have happened
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    bool main_done_ = false;
    std::optional<OutputStream> out_, err_;
    std::optional<Timer> sample_timer_, deadline_, hook_deadline_, step_timer_;
    std::chrono::steady_clock::time_point t0_, phase_since_;
    pid_t hook_pid_ = -1;
    UniqueFd hook_pidfd_;
    std::chrono::steady_clock::time_point hook_t0_;
    std::vector<int> watched_;
    bool started_ = false, failing_ = false, sample_error_noted_ = false;
    bool ci_group_open_ = false;  // a CI log block was opened for this suite's output
    // Opens / closes the suite's CI log block on corral's stdout (RunOptions::ci_groups).
    void open_ci_group();
    void close_ci_group();
    std::string box_name_;  // "" when unboxed
    std::optional<std::size_t> attribution_id_;
    std::set<pid_t> last_pids_;  // the box's processes at the previous sample (new ones get a start time)
    double start_mono_s_ = 0;
    bool oom_group_done_ = false;  // emulated memory.oom_group fired
    double grace_started_s_ = -1;  // when SIGTERM went, for the explanation of an early SIGKILL
    std::uint64_t oom_kills_seen_ = 0;  // the box's OOM kill counter at the last sample
    std::vector<OomCounterSample> oom_counter_log_;  // the box's OOM counters at each sample (bounded)
    std::string oom_own_source_;                     // what counts the box's own limit hits
    struct RecordMeta {
        double kill_s = 0;  // kernel monotonic seconds
        bool headerless = false;
        WhoseLimit whose = WhoseLimit::Unknown;  // as the record's header said
    };
    std::vector<RecordMeta> oom_meta_;  // one per res_.oom_records entry
    LineLog lines_;                     // what was printed lately, for the line at each OOM kill
    std::optional<MarkerDetector> markers_;
    GrowthTracker growth_;
    double last_marker_sample_t_ = -1;
    std::optional<double> first_kill_s_;
    std::optional<double> end_mono_s_;  // when finish() began
    bool first_kill_from_record_ = false;
    double prev_sample_mono_s_ = 0;  // the previous sample's time (kernel monotonic seconds)
    PeakProcesses peak_processes_;      // the box's processes read at its peaks
    StallWatch stall_;                  // output and CPU time, for stall_timeout and "stalled?"
    bool stall_unmeasured_noted_ = false;
    std::optional<std::uint64_t> memory_now_;  // the last sample's memory use
    std::string live_line_;                     // the last line printed, or the one being printed
};

template <class F>
void SuiteRun::guarded(const char* what, F&& step) {
    try {
        step();
    } catch (const std::exception& e) {
        fail(what, e.what());
    }
}

}  // namespace corral
