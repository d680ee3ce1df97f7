// What a suite run produced, the verdict logic and the one-sentence explanation.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corral/box/measure.hpp"
#include "corral/oom/oom_record.hpp"
#include "corral/report/growth.hpp"
#include "corral/profile/profile.hpp"
#include "corral/report/sample_series.hpp"

namespace corral {

enum class Verdict { Passed, Failed, Signaled, OomKilled, Timeout, LaunchError, Interrupted };
// "passed" "failed" "signaled" "oom-killed" "timeout" "launch-error" "interrupted"
std::string verdict_name(Verdict v);

// What the suite's memory was at its highest sample (memory.stat split into anon and file).
struct PeakSample {
    double t_s = 0;
    std::uint64_t bytes = 0;
    std::optional<std::uint64_t> anon_bytes, file_bytes;
    std::string last_line;  // as the memory samples keep it (cut to kSampleLineMaxBytes)
};

struct ProcInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    char state = '?';
    std::string wchan;
    std::uint64_t rss_bytes = 0;
    std::uint64_t swap_bytes = 0;  // VmSwap
    std::string comm;
    std::string cmdline;  // argv joined by spaces
};

struct HookResult {
    std::vector<std::string> argv;
    std::optional<int> exit_code;
    std::optional<int> signal;
    bool timed_out = false;
    double duration_s = 0;
    std::string error;  // could not start
};

// A kernel OOM kill attributed to a suite (from /dev/kmsg or the journal).
struct OomKill {
    pid_t victim_pid = 0;
    std::string victim_comm;
    std::string whose;  // "own" | "ancestor" | "host"
    std::string oom_memcg;
    std::uint64_t anon_rss_kb = 0;
    std::string victim_line;  // "Memory cgroup out of memory: Killed process …"
    std::uint64_t rss_kb = 0;  // the victim's anon + file + shmem RSS at the kill
    std::optional<TaskDump> task_dump;  // the record's task table (nullopt: the kernel left it out)
    nlohmann::json detail;    // the report's record object
};

// The facts gathered by the supervisor; verdict and explanation are derived from them.
struct SuiteResult {
    std::string name;
    std::string command;
    Limits limits;
    std::optional<Duration> timeout;
    Duration kill_grace{};
    bool boxed = true;  // false with --allow-unboxed when no cgroup could be made
    std::string cgroup;  // where the box lives (paths, for people)

    // outcome of the main process
    std::optional<int> exit_code;  // exited normally
    std::optional<int> signal;     // killed by this signal number
    double duration_s = 0;
    std::string launch_error;  // non-empty: could not start
    bool timed_out = false;    // corral's timeout fired (or its stall_timeout: then stalled too)
    std::optional<Duration> stall_timeout;  // the profile's stall_timeout (unset: none)
    // It printed nothing and its tree used no CPU time for stall_timeout: ended as a timeout.
    bool stalled = false;
    bool interrupted = false;  // corral got SIGINT/SIGTERM
    int term_signalled = 0;    // processes sent SIGTERM when ending the tree
    int kill_signalled = 0;    // processes still alive after the grace period (SIGKILLed)
    // When corral's timeout fired and when corral first sent SIGKILL to the tree (after the grace,
    // a second interrupt or an emulated oom_group kill), in seconds after the suite started.
    std::optional<double> timeout_at_s;
    std::optional<double> sigkill_at_s;
    // How the box ends a tree with SIGKILL: "cgroup.kill", "freeze-and-signal", "KillUnit"
    // ("signal-each" unboxed); "" when the suite never had a box.
    std::string kill_method;
    // A second interrupt SIGKILLed the tree this long after the SIGTERM, cutting the grace short.
    std::optional<double> grace_cut_s;
    // Bytes of the suite's output that corral's own stdout/stderr could not take in time (a slow
    // reader) and that were left out of the live stream; the output files have everything.
    std::uint64_t live_output_dropped = 0;

    // measurements
    std::optional<std::uint64_t> peak_bytes;
    std::string peak_source;  // e.g. "memory.max_usage_in_bytes"
    MemorySeries samples;     // bounded: a recent window, buckets before it, the peak, around OOM kills
    PressureSeries pressure;  // the same for PSI, and the thrashing summary
    std::optional<PeakSample> peak_sample;
    // What in the suite used the memory (markers, the curve's pattern); nullopt unboxed or unsampled.
    std::optional<Growth> growth;
    // The box's processes, the largest by RSS first (at most kPeakProcessesKept), read at the sample
    // that last set a peak by kPeakProcessesRise (run/peak_processes.hpp); when, at what usage, and
    // how many processes the box had then.
    std::vector<ProcInfo> peak_processes;
    std::optional<double> peak_processes_t_s;
    std::uint64_t peak_processes_memory_bytes = 0;
    std::size_t peak_processes_count = 0;
    // Raw cgroup counters where the backend has them (v2: memory.events, memory.events.local,
    // pids.events, cpu.stat); empty maps otherwise.
    std::map<std::string, std::uint64_t> memory_events, memory_events_local, pids_events, cpu_stat;
    nlohmann::json systemd;    // the manager's view of a systemd scope (unit, slice, result, …); null otherwise
    std::string backend;       // the backend this suite ran in ("cgroup-v1", "systemd-scope", …)
    std::string backend_reason;  // why that one (backend: auto)
    bool cgroup_namespace = false;  // the suite was started in a cgroup namespace of its own
    std::string start_method;  // "clone3-into-cgroup", "cgroup.procs" (how the main process entered the box)
    std::uint64_t oom_kills = 0;       // kernel OOM kills in the box (the cgroup's counter)
    // memory.oom_group ended the whole tree: the kernel's group kill (v2 memory.events oom_group_kill),
    // or corral's emulation of it (v1). False when oom_group was set but no OOM kill came.
    bool oom_group_killed = false;
    std::vector<OomKill> oom_records;  // the kernel's own records of them
    std::uint64_t oom_records_without_header = 0;  // the kernel rate-limited their header
    // The line printed when the first OOM kill came (its record's time, or the first sample whose OOM
    // counter rose); the partial line when one was being printed.
    std::string line_at_first_kill;
    // The suite had printed a line (or part of one) by the first OOM kill; nullopt: no time known for
    // the first kill (no record, no sample saw the counter rise).
    std::optional<bool> printed_before_first_kill;
    std::uint64_t memory_failcnt = 0;  // times the memory limit was hit
    std::uint64_t tasks_limit_hits = 0;
    std::optional<std::uint64_t> cpu_usage_us;
    std::optional<std::uint64_t> cpu_throttled_us;
    std::optional<std::uint64_t> cpu_nr_throttled;

    std::size_t left_behind_count = 0;
    std::vector<ProcInfo> left_behind;       // first few, at the main process's exit
    std::vector<ProcInfo> timeout_snapshot;  // whole tree, before the first SIGTERM
    std::optional<HookResult> on_timeout;
    std::string last_line;
    std::vector<std::string> notes;  // limits not enforced, v1 semantics, …

    std::string stdout_file, stderr_file;  // relative to the report directory
    std::string profile;  // the profile file as given on the command line; "" for the ad-hoc suite

    Verdict verdict = Verdict::LaunchError;
    std::string explanation;

    std::optional<SplitBatch> split;  // a batch of a `split` suite: of, index, items
};

// The suite's view of a kernel record (the report's oom.records entry, the summary's victim line).
OomKill make_oom_kill(const OomRecord& rec, WhoseLimit whose, double suite_start_mono_s);

// Verdict priority: launch-error, oom-killed (any OOM kill in the box, whatever the exit status),
// timeout, interrupted, signaled, failed (non-zero exit), passed.
Verdict decide_verdict(const SuiteResult& r);
// One sentence, e.g. "OOM-killed by its memory.max of 256 MiB at 256 MiB while the suite printed
// 'test_087 PASSED'."
std::string explain(const SuiteResult& r);
// Sets r.verdict and r.explanation.
void finalize(SuiteResult& r);

std::string signal_name(int sig);  // "SIGKILL"; "signal 42" when unknown

// The tree's processes for a sentence: "1234 sh S (sleeping) in do_wait, 1235 sleep S (sleeping) in
// hrtimer_nanosleep" (the first `max` of them, then "and N more").
std::string tree_states(const std::vector<ProcInfo>& procs, std::size_t max = 5);

// Small formatting helpers shared by explain() and the human summary.
// 'line' in single quotes, cut after max_chars UTF-8 characters with "…".
std::string quote_line(const std::string& line, std::size_t max_chars = 120);
// "5%", "<1%", "100%" ("n/a" when whole is 0).
std::string percent_of(std::uint64_t part, std::uint64_t whole);
// OOM kills in the box: the cgroup's counter, or the kernel records when more of them came.
std::uint64_t oom_kill_count(const SuiteResult& r);
// The peak against memory.max: "peak 64 MiB (100% of its memory.max of 64 MiB)" (Sentence) or
// "peak 64 MiB / 64 MiB (100%)" (Compact); "peak n/a" when unknown, "(no memory.max)" without one.
enum class PeakStyle { Sentence, Compact };
std::string peak_text(const SuiteResult& r, PeakStyle style);
// A memory.max is set and is not infinity.
bool has_memory_max(const Limits& l);

}  // namespace corral
