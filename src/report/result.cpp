#include "corral/report/result.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "corral/report/oom_victim.hpp"

namespace corral {

std::string verdict_name(Verdict v) {
    switch (v) {
        case Verdict::Passed:
            return "passed";
        case Verdict::Failed:
            return "failed";
        case Verdict::Signaled:
            return "signaled";
        case Verdict::OomKilled:
            return "oom-killed";
        case Verdict::Timeout:
            return "timeout";
        case Verdict::LaunchError:
            return "launch-error";
        case Verdict::Interrupted:
            return "interrupted";
    }
    return "unknown";
}

std::string signal_name(int sig) {
    // glibc's table of abbreviations ("KILL"); NULL for numbers it does not name.
    if (sig > 0) {
        if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
    }
    return "signal " + std::to_string(sig);
}

Verdict decide_verdict(const SuiteResult& r) {
    if (!r.launch_error.empty()) return Verdict::LaunchError;
    // An OOM kill decides the verdict whatever the exit status: 137 or 143 from a shell or a
    // test runner does not tell who sent the signal.
    if (r.oom_kills > 0 || !r.oom_records.empty()) return Verdict::OomKilled;
    if (r.timed_out) return Verdict::Timeout;
    if (r.interrupted) return Verdict::Interrupted;
    if (r.signal) return Verdict::Signaled;
    // A non-zero exit, or (should not happen) neither an exit status nor a signal.
    if (!r.exit_code || *r.exit_code != 0) return Verdict::Failed;
    return Verdict::Passed;
}

std::string quote_line(const std::string& line, std::size_t max_chars) {
    // Count UTF-8 code points so a cut never splits a multi-byte character.
    std::size_t chars = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
        if (chars == max_chars) return "'" + line.substr(0, i) + "…'";
        ++chars;
    }
    return "'" + line + "'";
}

bool has_memory_max(const Limits& l) { return l.memory_max && *l.memory_max != kInfinity; }

std::string percent_of(std::uint64_t part, std::uint64_t whole) {
    if (whole == 0) return "n/a";
    double pct = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
    if (pct > 0 && pct < 1) return "<1%";
    return fmt::format("{}%", std::llround(pct));
}

namespace {

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

constexpr std::size_t kQuoteChars = 120;

// "; it last printed '…'" or "" when nothing was printed.
std::string last_printed(const SuiteResult& r) {
    if (r.last_line.empty()) return "";
    return "; it last printed " + quote_line(r.last_line, kQuoteChars);
}

// How the tree was ended: "SIGTERM to 3 processes, 1 still alive after the 2s grace and SIGKILLed".
std::string ending(const SuiteResult& r) {
    std::string grace = format_duration(r.kill_grace);
    if (r.term_signalled == 0 && r.kill_signalled == 0) return "no process was left to signal";
    std::string s =
        "SIGTERM to " + plural(static_cast<std::uint64_t>(r.term_signalled), "process", "processes");
    if (r.grace_cut_s) {
        // A second interrupt: the grace did not run out, corral was told to stop waiting.
        if (r.kill_signalled > 0)
            s += fmt::format(", then a second interrupt SIGKILLed {} {} into the {} grace", r.kill_signalled,
                             format_seconds(*r.grace_cut_s), grace);
        else
            s += fmt::format(", then a second interrupt {} into the {} grace found none left to SIGKILL",
                             format_seconds(*r.grace_cut_s), grace);
    } else if (r.kill_signalled > 0) {
        s += fmt::format(", {} still alive after the {} grace and SIGKILLed", r.kill_signalled, grace);
    } else {
        s += fmt::format(", all gone within the {} grace", grace);
    }
    return s;
}

std::string hook_problem(const SuiteResult& r) {
    if (!r.on_timeout) return "";
    const HookResult& h = *r.on_timeout;
    if (!h.error.empty()) return "; its on_timeout hook could not start: " + h.error;
    if (h.timed_out) return "; its on_timeout hook was still running after its time limit and was killed";
    if (h.signal) return "; its on_timeout hook was killed by " + signal_name(*h.signal);
    if (h.exit_code && *h.exit_code != 0) return fmt::format("; its on_timeout hook exited {}", *h.exit_code);
    return "";
}

std::string failcnt_clause(const SuiteResult& r) {
    if (r.memory_failcnt == 0 || !has_memory_max(r.limits)) return "";
    return fmt::format("; memory reached its memory.max of {} {} without an OOM kill",
                       format_bytes(*r.limits.memory_max), plural(r.memory_failcnt, "time", "times"));
}

std::string oom_sentence(const SuiteResult& r) {
    std::uint64_t n = oom_kill_count(r);
    std::string kills = n == 1 ? "" : fmt::format(" ({} kills)", n);
    auto whose = [&](const char* w) {
        return std::any_of(r.oom_records.begin(), r.oom_records.end(), [&](const OomKill& k) { return k.whose == w; });
    };
    std::string s;
    if (!whose("own") && whose("host")) {
        s = "OOM-killed" + kills +
            " by a global OOM (CONSTRAINT_NONE): the host or container ran out of memory, not the suite's own "
            "limit";
        if (r.peak_bytes) s += "; its peak was " + format_bytes(*r.peak_bytes);
    } else if (!whose("own") && whose("ancestor")) {
        const OomKill& k = *std::find_if(r.oom_records.begin(), r.oom_records.end(),
                                         [](const OomKill& x) { return x.whose == "ancestor"; });
        s = "OOM-killed" + kills + " by an ancestor cgroup's limit" +
            (k.oom_memcg.empty() ? std::string() : " (" + k.oom_memcg + ")") +
            ", not its own memory.max: the machine, CI container or corral's parent cgroup was full";
        if (r.peak_bytes) s += "; its peak was " + format_bytes(*r.peak_bytes);
    } else if (!whose("own") && whose("unknown")) {
        const OomKill& k = *std::find_if(r.oom_records.begin(), r.oom_records.end(),
                                         [](const OomKill& x) { return x.whose == "unknown"; });
        s = "OOM-killed" + kills + " by a limit corral cannot name";
        if (k.detail.is_object() && k.detail.contains("whose_limit_reason"))
            s += " (" + k.detail["whose_limit_reason"].get<std::string>() + ")";
        if (r.peak_bytes) s += "; its peak was " + format_bytes(*r.peak_bytes);
    } else if (has_memory_max(r.limits)) {
        s = "OOM-killed" + kills + " by its memory.max of " + format_bytes(*r.limits.memory_max);
        if (r.peak_bytes) s += " at " + format_bytes(*r.peak_bytes);
    } else {
        s = fmt::format(
            "OOM-killed ({}) although it had no memory.max of its own: an ancestor cgroup's limit or the "
            "host ran out",
            plural(n, "kill", "kills"));
        if (r.peak_bytes) s += "; its peak was " + format_bytes(*r.peak_bytes);
    }
    // The line printed when the first kill came, not the last one (a runner replaces a dead worker
    // and goes on printing).
    if (r.printed_before_first_kill == false) {
        s += " before the suite had printed anything";
    } else {
        const std::string& line = r.line_at_first_kill.empty() ? r.last_line : r.line_at_first_kill;
        if (!line.empty()) s += " while the suite printed " + quote_line(line, kQuoteChars);
    }
    s += oom_victim_clause(r);
    if (r.oom_group_killed) s += "; memory.oom_group ended the whole suite";
    return s;
}

// Clauses that apply whatever the verdict.
std::string common_clauses(const SuiteResult& r) {
    std::string s;
    if (r.tasks_limit_hits > 0) {
        s += "; fork was refused " + plural(r.tasks_limit_hits, "time", "times");
        if (r.limits.tasks_max && *r.limits.tasks_max != kInfinity)
            s += fmt::format(" by its tasks_max of {}", *r.limits.tasks_max);
        else
            s += " by a tasks limit";
    }
    if (r.left_behind_count > 0) {
        s += "; left " + plural(r.left_behind_count, "process", "processes") + " running";
        if (!r.left_behind.empty())
            s += fmt::format(" (first: {} {})", r.left_behind.front().pid, r.left_behind.front().comm);
        s += ", ended by corral";
    }
    if (auto high = r.memory_events.find("high"); high != r.memory_events.end() && high->second > 0) {
        s += "; it went over ";
        s += r.limits.memory_high && *r.limits.memory_high != kInfinity
                 ? "its memory.high of " + format_bytes(*r.limits.memory_high)
                 : std::string("a memory.high");
        s += " and was throttled (memory.events high " + std::to_string(high->second) + ")";
    }
    if (PressureSummary p = r.pressure.summary(); p.thrashing)
        s += fmt::format(
            "; it was thrashing: all its tasks were stalled on memory (PSI full) {}% of the time for {} from "
            "t={} (threshold {}% over {})",
            std::llround(p.worst_full_percent), format_seconds(p.worst_window_s), format_seconds(p.worst_start_s),
            std::llround(kThrashingFullPercent), format_seconds(kThrashingWindowS));
    if (!r.boxed) s += "; no limits were enforced (--allow-unboxed)";
    return s;
}

// "stalled: no output and no CPU time for 2s (its stall_timeout; …); it last printed '…'; its tree:
// …: SIGTERM to …".
std::string stall_sentence(const SuiteResult& r) {
    std::string s = "stalled: no output and no CPU time for " +
                    (r.stall_timeout ? format_duration(*r.stall_timeout) : std::string("its stall_timeout")) +
                    " (its stall_timeout";
    if (r.timeout) s += ", " + format_seconds(r.duration_s) + " into its timeout of " + format_duration(*r.timeout);
    s += ")";
    s += r.last_line.empty() ? std::string("; it had printed nothing")
                             : "; it last printed " + quote_line(r.last_line, kQuoteChars);
    if (!r.timeout_snapshot.empty()) s += "; its tree: " + tree_states(r.timeout_snapshot);
    return s + "; " + ending(r) + hook_problem(r);
}

}  // namespace

std::string tree_states(const std::vector<ProcInfo>& procs, std::size_t max) {
    auto state_word = [](char st) -> std::string {
        switch (st) {
            case 'R': return " (running)";
            case 'S': return " (sleeping)";
            case 'D': return " (uninterruptible, waiting on I/O or the kernel)";
            case 'T': return " (stopped)";
            case 't': return " (traced)";
            case 'Z': return " (zombie)";
            case 'I': return " (idle)";
            default: return "";
        }
    };
    std::string s;
    for (std::size_t i = 0; i < procs.size() && i < max; ++i) {
        const ProcInfo& p = procs[i];
        if (!s.empty()) s += ", ";
        s += fmt::format("{} {} {}{}", p.pid, p.comm, p.state, state_word(p.state));
        if (!p.wchan.empty() && p.wchan != "0") s += " in " + p.wchan;
    }
    if (procs.size() > max) s += fmt::format(" and {} more", procs.size() - max);
    return s;
}

std::string explain(const SuiteResult& r) {
    std::string s;
    switch (decide_verdict(r)) {
        case Verdict::LaunchError:
            s = "Could not start: " + r.launch_error;
            if (s.back() == '.') s.pop_back();  // the sentence ends with ours
            break;
        case Verdict::OomKilled:
            s = oom_sentence(r);
            break;
        case Verdict::Timeout:
            if (r.stalled) {
                s = stall_sentence(r);
                break;
            }
            s = "Timed out after " +
                (r.timeout ? format_duration(*r.timeout) + " (its timeout)" : format_seconds(r.duration_s)) +
                ": " + ending(r) + hook_problem(r) + last_printed(r);
            break;
        case Verdict::Interrupted:
            s = "Interrupted: corral received a signal and ended the suite's tree after " +
                format_seconds(r.duration_s) + " (" + ending(r) + ")" + last_printed(r);
            break;
        case Verdict::Signaled:
            s = "Killed by " + signal_name(*r.signal) + ", not by an OOM kill or corral's timeout, after " +
                format_seconds(r.duration_s) + failcnt_clause(r) + last_printed(r);
            break;
        case Verdict::Failed:
            if (r.exit_code)
                s = fmt::format("Exited with status {} after {}", *r.exit_code, format_seconds(r.duration_s));
            else
                s = "Ended after " + format_seconds(r.duration_s) + " with no exit status";
            s += failcnt_clause(r) + last_printed(r);
            break;
        case Verdict::Passed: {
            s = "Exited 0 after " + format_seconds(r.duration_s);
            if (r.peak_bytes) s += "; " + peak_text(r, PeakStyle::Sentence);
            break;
        }
    }
    s += common_clauses(r) + ".";
    // What in the suite used the memory, when the curve says something (a leak, one test, a plateau).
    if (r.growth && (r.growth->pattern == "steady" || r.growth->pattern == "spike" || r.growth->pattern == "plateau") &&
        !r.growth->summary.empty())
        s += " " + r.growth->summary;
    return s;
}

void finalize(SuiteResult& r) {
    r.verdict = decide_verdict(r);
    r.explanation = explain(r);
}

std::uint64_t oom_kill_count(const SuiteResult& r) {
    return std::max<std::uint64_t>(r.oom_kills, r.oom_records.size());
}

std::string peak_text(const SuiteResult& r, PeakStyle style) {
    if (!r.peak_bytes) return "peak n/a";
    std::string s = "peak " + format_bytes(*r.peak_bytes);
    if (!has_memory_max(r.limits)) return s + " (no memory.max)";
    const std::string pct = percent_of(*r.peak_bytes, *r.limits.memory_max);
    const std::string max = format_bytes(*r.limits.memory_max);
    return s + (style == PeakStyle::Sentence ? fmt::format(" ({} of its memory.max of {})", pct, max)
                                             : fmt::format(" / {} ({})", max, pct));
}

OomKill make_oom_kill(const OomRecord& rec, WhoseLimit whose, double suite_start_mono_s) {
    OomKill k;
    k.victim_pid = rec.victim_pid;
    k.victim_comm = rec.victim_comm;
    k.whose = whose_limit_name(whose);
    k.oom_memcg = rec.oom_memcg;
    k.anon_rss_kb = rec.anon_rss_kb;
    k.victim_line = rec.victim_line;
    k.rss_kb = rec.anon_rss_kb + rec.file_rss_kb + rec.shmem_rss_kb;
    k.task_dump = rec.task_dump;
    k.detail = oom_record_to_json(rec, whose, suite_start_mono_s, wall_clock_offset());
    return k;
}

}  // namespace corral
