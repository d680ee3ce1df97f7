// Kernel OOM reports: /dev/kmsg record parsing, grouping the report's lines into one record,
// attributing a record to a suite's box and turning it into report JSON. Pure: no I/O.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "corral/oom/task_dump.hpp"

namespace corral {

// One kernel log line, from /dev/kmsg or from the journal's kernel transport.
struct KernelLine {
    std::uint64_t seq = 0;      // kmsg sequence number (journal: a running count)
    std::uint64_t mono_us = 0;  // kernel timestamp, microseconds (see wall_clock_offset)
    int priority = 6;           // syslog level 0..7 (the PRI field & 7)
    std::string text;           // the message, \xNN escapes decoded (may contain '\n')
    // Facility kern (the PRI field >> 3 is 0): written by the kernel. A process with the right to write
    // /dev/kmsg can log lines of its own (facility user by default), which must never count as the
    // kernel's OOM report.
    bool from_kernel = true;
};

// Parses one /dev/kmsg record: "PRI,SEQ,TS_US,FLAGS[,…];message\n" followed by optional
// continuation lines " KEY=VALUE\n" (ignored). std::nullopt when the prefix is malformed.
std::optional<KernelLine> parse_kmsg_record(std::string_view raw);

struct OomRecord {
    std::string invoker;     // task that invoked the OOM killer ("" when that line was not seen)
    std::string constraint;  // "CONSTRAINT_MEMCG", "CONSTRAINT_NONE", …
    std::string oom_memcg;   // cgroup whose limit was hit ("" for a global OOM)
    std::string task_memcg;  // the victim's cgroup
    pid_t victim_pid = 0;
    std::string victim_comm;
    uid_t uid = 0;
    std::uint64_t total_vm_kb = 0, anon_rss_kb = 0, file_rss_kb = 0, shmem_rss_kb = 0;
    std::optional<std::uint64_t> memcg_usage_kb, memcg_limit_kb;  // the "memory: usage …" line
    bool global = false;                 // "Out of memory: Killed process" / oom-kill:…,global_oom
    std::uint64_t mono_us = 0;           // timestamp of the "Killed process" line
    std::vector<std::string> raw_lines;  // the report's lines, in order
    std::size_t raw_lines_dropped = 0;   // report lines past kMaxRawLines (a long task dump is cut)
    std::optional<TaskDump> task_dump;   // its task table; nullopt when the kernel left it out
    std::string source = "kmsg";         // "kmsg" | "journal"
    std::string victim_line;             // "Memory cgroup out of memory: Killed process …"
};

// Groups kernel lines into OOM records. Feed lines in order (one at a time or in batches);
// a record is complete at its "Killed process" line. Unrelated lines that arrive in the middle
// of a report are left out of raw_lines; the key lines (invoked, memory:, oom-kill:, Killed
// process) are always kept.
class OomParser {
public:
    explicit OomParser(std::string source = "kmsg") : source_(std::move(source)) {}
    void feed(const KernelLine& line);
    // Records completed since the last call, oldest first.
    std::vector<OomRecord> take_complete();
    // A report has started and its "Killed process" line has not come yet.
    bool in_progress() const noexcept { return current_.has_value(); }

    // raw_lines stops growing here (key lines are still added).
    static constexpr std::size_t kMaxRawLines = 400;

private:
    void start();
    void add_raw(const std::string& text, bool key);

    std::string source_;
    std::optional<OomRecord> current_;
    std::vector<OomRecord> done_;
};

// True when kernel_path (relative to the hierarchy root, as the kernel prints it) is the cgroup
// named by suite_suffix or lies below it. suite_suffix is matched as whole path components at
// the end of some prefix of kernel_path, so a path seen from inside a cgroup namespace
// ("/corral-unit-1a2b3c4d") matches the kernel's longer one, and "corral-a-1" never matches
// "corral-a-10". An empty suffix matches nothing.
bool cgroup_path_matches(const std::string& kernel_path, const std::string& suite_suffix);

// Whose memory limit caused the kill: the suite's box (or a cgroup below it), a cgroup above
// or beside it, or the host as a whole (global OOM, cpuset or mempolicy constraint).
// Unknown: a memcg OOM whose header (the oom-kill: line with oom_memcg) the kernel left out; the
// suite tells it from its box's counters (oom/attribution: whose_without_header).
enum class WhoseLimit { Own, Ancestor, Host, Unknown };
WhoseLimit classify(const OomRecord& r, const std::string& suite_box_name);
std::string whose_limit_name(WhoseLimit w);  // "own" | "ancestor" | "host" | "unknown"
// The kernel printed the report's header (the oom-kill: line, or the global "Out of memory:" kill):
// its cgroup paths say whose limit it was. In a storm the kernel rate-limits the header (about 10
// per 5 s) and only the "Memory cgroup out of memory: Killed process" line comes.
bool has_header(const OomRecord& r);


// Seconds to add to a kernel timestamp (CLOCK_MONOTONIC-based) to get Unix time:
// CLOCK_REALTIME - CLOCK_MONOTONIC, now. /dev/kmsg stamps come from the kernel's local_clock(),
// which, like CLOCK_MONOTONIC and unlike CLOCK_BOOTTIME, does not advance during suspend;
// journald's _SOURCE_MONOTONIC_TIMESTAMP is the same stamp. (Measured on the dev host: a
// fresh kmsg record is within 0.5 ms of CLOCK_MONOTONIC after 80 min of uptime.)
double wall_clock_offset();
// CLOCK_MONOTONIC now, in seconds (the clock suite_start_mono_s must be taken from).
double monotonic_now_s();
// "2024-05-01T12:34:56.789Z".
std::string format_utc_iso_ms(double unix_s);

// {victim:{pid,comm,uid}, invoker, constraint, oom_memcg, task_memcg, whose_limit, global,
//  total_vm_kb, anon_rss_kb, file_rss_kb, shmem_rss_kb, memcg_usage_kb, memcg_limit_kb (null
//  when unknown), source, kernel_time_s, wall_time, t_s (since suite start), victim_line, raw,
//  tasks (task_dump_to_json), task_dump: {columns, page_size, unparsed_rows, truncated} or null}
nlohmann::json oom_record_to_json(const OomRecord& r, WhoseLimit whose, double suite_start_mono_s,
                                  double boot_to_wall_offset_s);

}  // namespace corral
