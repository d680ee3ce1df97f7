#include "corral/oom/oom_record.hpp"

#include <time.h>

#include <charconv>
#include <cmath>
#include <cstdio>

namespace corral {

namespace {

template <class T>
std::optional<T> to_number(std::string_view s) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The kernel escapes non-printable bytes (and '\\') in /dev/kmsg messages as \xNN.
std::string unescape_kmsg(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
            int hi = hex_digit(s[i + 2]), lo = hex_digit(s[i + 3]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 3;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

// The digits right after `key` in s, searched from `from` (0 when missing).
std::uint64_t number_after(std::string_view s, std::string_view key, std::size_t from = 0) {
    auto pos = s.find(key, from);
    if (pos == std::string_view::npos) return 0;
    pos += key.size();
    auto end = pos;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    return to_number<std::uint64_t>(s.substr(pos, end - pos)).value_or(0);
}

// Text between key and the first `end` after it ("" when key is missing); end may be "".
std::string between(std::string_view s, std::string_view key, std::string_view end) {
    auto pos = s.find(key);
    if (pos == std::string_view::npos) return "";
    pos += key.size();
    auto stop = end.empty() ? s.size() : s.find(end, pos);
    if (stop == std::string_view::npos) stop = s.size();
    return std::string(s.substr(pos, stop - pos));
}

// "name 123" lines: v1 "Memory cgroup stats" lines, or the v2 stat block (one record with
// embedded newlines).
bool is_stat_block(std::string_view s) {
    if (s.empty()) return false;
    while (!s.empty()) {
        auto nl = s.find('\n');
        std::string_view line = s.substr(0, nl);
        s = nl == std::string_view::npos ? std::string_view{} : s.substr(nl + 1);
        auto sp = line.find(' ');
        if (sp == 0 || sp == std::string_view::npos) return false;
        for (char c : line.substr(0, sp))
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
        if (!to_number<std::uint64_t>(line.substr(sp + 1))) return false;
    }
    return true;
}

// Register dump lines of the stack trace: "RIP: …", "RAX: …", "R10: …".
bool is_register_line(std::string_view s) {
    auto up = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    return s.size() >= 5 && s[0] == 'R' && up(s[1]) && up(s[2]) && s[3] == ':' && s[4] == ' ';
}

// A line the kernel prints between "invoked oom-killer" and "Killed process": stack dump,
// memcg usage and stats, Mem-Info (global OOM), the task table.
bool is_report_line(std::string_view s) {
    static constexpr std::string_view prefixes[] = {
        "CPU: ",
        "Hardware name:",
        "Call Trace:",
        "Code: ",
        "Workqueue:",
        " ",
        "memory: ",
        "memory+swap: ",
        "kmem: ",
        "swap: ",
        "Memory cgroup stats for ",
        "Mem-Info:",
        "active_anon:",
        "Node ",
        "lowmem_reserve[]:",
        "Free swap",
        "Total swap",
        "Swap cache stats",
        "Tasks state",
        "[",
        "Unreclaimable slab info:",
        "Name ",
        "oom-kill:",
    };
    for (auto p : prefixes)
        if (starts_with(s, p)) return true;
    static constexpr std::string_view infixes[] = {
        " total pagecache pages", " pages in swap cache", " pages RAM",        " pages HighMem",
        " pages reserved",        " pages cma reserved",  " pages hwpoisoned", " mems_allowed=",
    };
    for (auto p : infixes)
        if (contains(s, p)) return true;
    return is_register_line(s) || is_stat_block(s);
}

constexpr std::string_view kInvoked = " invoked oom-killer:";
constexpr std::string_view kKilled = "Killed process ";

// Position of "Killed process " when s is a victim line ("Memory cgroup out of memory: Killed
// process …", "Out of memory: Killed process …", older kernels' bare "Killed process …").
std::optional<std::size_t> killed_pos(std::string_view s) {
    if (!contains(s, " total-vm:")) return std::nullopt;
    if (starts_with(s, kKilled)) return 0;
    auto pos = s.find(": Killed process ");
    if (pos == std::string_view::npos) return std::nullopt;
    return pos + 2;
}

void parse_oom_kill_line(std::string_view s, OomRecord& r) {
    r.constraint = between(s, "constraint=", ",");
    r.global = contains(s, ",global_oom");
    if (!r.global) r.oom_memcg = between(s, ",oom_memcg=", ",task_memcg=");
    // task_memcg and the comm may contain commas: cut at the last ",task=" / ",pid=".
    auto task = s.rfind(",task=");
    auto pid = s.rfind(",pid=");
    auto uid = s.rfind(",uid=");
    auto tm = s.find(",task_memcg=");
    if (tm != std::string_view::npos && task != std::string_view::npos && task > tm)
        r.task_memcg = std::string(s.substr(tm + 12, task - tm - 12));
    if (task != std::string_view::npos && pid != std::string_view::npos && pid > task)
        r.victim_comm = std::string(s.substr(task + 6, pid - task - 6));
    if (pid != std::string_view::npos) r.victim_pid = static_cast<pid_t>(number_after(s, ",pid=", pid));
    if (uid != std::string_view::npos) r.uid = static_cast<uid_t>(number_after(s, ",uid=", uid));
}

// "…Killed process 13692 (alloc) total-vm:35276kB, anon-rss:32512kB, file-rss:1348kB,
// shmem-rss:0kB, UID:0 pgtables:112kB oom_score_adj:0"
void parse_killed_line(std::string_view s, std::size_t at, OomRecord& r) {
    std::string_view prefix = s.substr(0, at);
    if (contains(prefix, "Memory cgroup")) {
        r.global = false;
    } else if (starts_with(prefix, "Out of memory")) {
        r.global = true;
        r.oom_memcg.clear();
        if (r.constraint.empty()) r.constraint = "CONSTRAINT_NONE";
    }
    r.victim_pid = static_cast<pid_t>(number_after(s, kKilled, at));
    auto open = s.find(" (", at);
    auto close = s.rfind(") total-vm:");
    std::size_t rest = at;
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
        r.victim_comm = std::string(s.substr(open + 2, close - open - 2));
        rest = close;
    }
    r.total_vm_kb = number_after(s, "total-vm:", rest);
    r.anon_rss_kb = number_after(s, "anon-rss:", rest);
    r.file_rss_kb = number_after(s, "file-rss:", rest);
    r.shmem_rss_kb = number_after(s, "shmem-rss:", rest);
    if (s.find("UID:", rest) != std::string_view::npos)
        r.uid = static_cast<uid_t>(number_after(s, "UID:", rest));
    r.victim_line = std::string(s);
}

}  // namespace

std::optional<KernelLine> parse_kmsg_record(std::string_view raw) {
    auto semi = raw.find(';');
    if (semi == std::string_view::npos) return std::nullopt;
    std::string_view prefix = raw.substr(0, semi);
    if (contains(prefix, "\n")) return std::nullopt;
    std::string_view fields[3];
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
        auto comma = prefix.find(',', start);
        if (comma == std::string_view::npos) {
            if (i < 2) return std::nullopt;  // PRI,SEQ,TS are required; FLAGS may be missing
            fields[i] = prefix.substr(start);
            break;
        }
        fields[i] = prefix.substr(start, comma - start);
        start = comma + 1;
    }
    auto pri = to_number<int>(fields[0]);
    auto seq = to_number<std::uint64_t>(fields[1]);
    auto ts = to_number<std::uint64_t>(fields[2]);
    if (!pri || *pri < 0 || !seq || !ts) return std::nullopt;
    std::string_view msg = raw.substr(semi + 1);
    msg = msg.substr(0, msg.find('\n'));  // continuation lines " KEY=VALUE" follow
    return KernelLine{*seq, *ts, *pri & 7, unescape_kmsg(msg), (*pri >> 3) == 0};
}

void OomParser::start() {
    current_.emplace();
    current_->source = source_;
}

void OomParser::add_raw(const std::string& text, bool key) {
    if (key || current_->raw_lines.size() < kMaxRawLines)
        current_->raw_lines.push_back(text);
    else
        ++current_->raw_lines_dropped;
}

void OomParser::feed(const KernelLine& line) {
    if (!line.from_kernel) return;  // a process's own line in the kernel log, whatever it says
    const std::string& s = line.text;
    if (auto inv = s.find(kInvoked); inv != std::string::npos) {
        start();  // a report that never reached "Killed process" is dropped
        current_->invoker = s.substr(0, inv);
        add_raw(s, true);
        return;
    }
    if (starts_with(s, "oom-kill:")) {
        if (!current_ || !current_->task_memcg.empty() || current_->victim_pid != 0) start();
        parse_oom_kill_line(s, *current_);
        add_raw(s, true);
        return;
    }
    if (auto at = killed_pos(s)) {
        pid_t pid = static_cast<pid_t>(number_after(s, kKilled, *at));
        if (!current_ || (current_->victim_pid != 0 && current_->victim_pid != pid)) start();
        parse_killed_line(s, *at, *current_);
        current_->mono_us = line.mono_us;
        add_raw(s, true);
        current_->task_dump = parse_task_dump(current_->raw_lines, system_page_size());
        done_.push_back(std::move(*current_));
        current_.reset();
        return;
    }
    if (!current_) return;
    if (starts_with(s, "memory: usage ") && !current_->memcg_usage_kb) {
        current_->memcg_usage_kb = number_after(s, "usage ");
        current_->memcg_limit_kb = number_after(s, "limit ");
        add_raw(s, true);
        return;
    }
    if (is_report_line(s)) add_raw(s, false);
}

std::vector<OomRecord> OomParser::take_complete() { return std::exchange(done_, {}); }

namespace {
std::vector<std::string_view> components(std::string_view p) {
    std::vector<std::string_view> out;
    while (!p.empty()) {
        auto slash = p.find('/');
        auto part = p.substr(0, slash);
        if (!part.empty() && part != ".") out.push_back(part);
        p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash + 1);
    }
    return out;
}
}  // namespace

bool cgroup_path_matches(const std::string& kernel_path, const std::string& suite_suffix) {
    auto k = components(kernel_path);
    auto want = components(suite_suffix);
    if (want.empty() || want.size() > k.size()) return false;
    for (std::size_t i = 0; i + want.size() <= k.size(); ++i) {
        bool all = true;
        for (std::size_t j = 0; j < want.size() && all; ++j) all = k[i + j] == want[j];
        if (all) return true;
    }
    return false;
}

WhoseLimit classify(const OomRecord& r, const std::string& suite_box_name) {
    if (r.global || (!r.constraint.empty() && r.constraint != "CONSTRAINT_MEMCG")) return WhoseLimit::Host;
    if (!has_header(r)) return WhoseLimit::Unknown;
    if (cgroup_path_matches(r.oom_memcg, suite_box_name)) return WhoseLimit::Own;
    return WhoseLimit::Ancestor;
}

bool has_header(const OomRecord& r) { return r.global || !r.oom_memcg.empty() || !r.constraint.empty(); }

std::string whose_limit_name(WhoseLimit w) {
    switch (w) {
        case WhoseLimit::Own:
            return "own";
        case WhoseLimit::Ancestor:
            return "ancestor";
        case WhoseLimit::Host:
            return "host";
        case WhoseLimit::Unknown:
            return "unknown";
    }
    return "unknown";
}

namespace {
double clock_s(clockid_t id) {
    timespec ts{};
    ::clock_gettime(id, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
}  // namespace

double wall_clock_offset() { return clock_s(CLOCK_REALTIME) - clock_s(CLOCK_MONOTONIC); }

double monotonic_now_s() { return clock_s(CLOCK_MONOTONIC); }

std::string format_utc_iso_ms(double unix_s) {
    auto total_ms = static_cast<long long>(std::llround(unix_s * 1000.0));
    auto secs = static_cast<time_t>(total_ms / 1000);
    auto ms = static_cast<int>(total_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        --secs;
    }
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

namespace {
// What the task list stands on: null without a dump; truncated when rows were past the record's
// line limit or could not be read.
nlohmann::json task_dump_info_json(const OomRecord& r) {
    if (!r.task_dump) return nullptr;
    return {{"columns", r.task_dump->columns},
            {"page_size", r.task_dump->page_size},
            {"unparsed_rows", r.task_dump->unparsed_rows},
            {"truncated", r.raw_lines_dropped > 0 || r.task_dump->unparsed_rows > 0}};
}
}  // namespace

nlohmann::json oom_record_to_json(const OomRecord& r, WhoseLimit whose, double suite_start_mono_s,
                                  double boot_to_wall_offset_s) {
    double kernel_s = static_cast<double>(r.mono_us) / 1e6;
    auto opt = [](const std::optional<std::uint64_t>& v) {
        return v ? nlohmann::json(*v) : nlohmann::json();
    };
    return {
        {"victim", {{"pid", r.victim_pid}, {"comm", r.victim_comm}, {"uid", r.uid}}},
        {"invoker", r.invoker},
        {"constraint", r.constraint},
        {"oom_memcg", r.oom_memcg},
        {"task_memcg", r.task_memcg},
        {"whose_limit", whose_limit_name(whose)},
        {"global", r.global},
        {"total_vm_kb", r.total_vm_kb},
        {"anon_rss_kb", r.anon_rss_kb},
        {"file_rss_kb", r.file_rss_kb},
        {"shmem_rss_kb", r.shmem_rss_kb},
        {"memcg_usage_kb", opt(r.memcg_usage_kb)},
        {"memcg_limit_kb", opt(r.memcg_limit_kb)},
        {"source", r.source},
        {"kernel_time_s", kernel_s},
        {"wall_time", format_utc_iso_ms(kernel_s + boot_to_wall_offset_s)},
        {"t_s", kernel_s - suite_start_mono_s},
        {"victim_line", r.victim_line},
        {"raw", r.raw_lines},
        {"tasks", task_dump_to_json(r.task_dump)},
        {"task_dump", task_dump_info_json(r)},
    };
}

}  // namespace corral
