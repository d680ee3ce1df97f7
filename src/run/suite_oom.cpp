// A suite's kernel OOM records: handing each record to its suite (the box path, the victim's pid,
// the box's counters) and telling whose limit a record without its header was.
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "corral/base/error.hpp"
#include "corral/base/proc_stat.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/oom/oom_watch.hpp"
#include "corral/run/suite_run.hpp"

namespace corral {

namespace {

// The box's counters kept per suite: at 100 ms, 13 min of samples; older ones are halved away (a record
// comes within moments of its kill, so only recent samples are ever asked about).
constexpr std::size_t kCounterLogMax = 8192;
// Records without their header that no suite claimed yet; more are dropped (not a suite's, then).
constexpr std::size_t kPendingMax = 4096;

double kill_time_s(const OomRecord& rec) { return static_cast<double>(rec.mono_us) / 1e6; }

// Why a record with its header is whose it is.
std::string header_reason(const OomRecord& rec, WhoseLimit whose, bool unboxed) {
    switch (whose) {
        case WhoseLimit::Host:
            return rec.global ? "a global OOM: the kernel's record says the whole machine ran out of memory"
                              : "the kernel's record names constraint " + rec.constraint + ", not a cgroup's limit";
        case WhoseLimit::Own:
            return "the kernel's record names oom_memcg " + rec.oom_memcg + ", the suite's box";
        case WhoseLimit::Ancestor:
            if (unboxed) return "the suite ran unboxed: it had no memory limit of its own";
            return "the kernel's record names oom_memcg " + rec.oom_memcg + ", a cgroup above the suite's box";
        case WhoseLimit::Unknown:
            break;
    }
    return "";
}

// The victim's cgroups now (the kernel logs a kill before its victim is gone): which suite's box held it.
void see_victim(Runner& runner, const OomRecord& rec) {
    if (rec.victim_pid <= 0) return;
    // The victim may be gone by now (ESRCH while reading its files): then it tells nothing.
    std::optional<std::string> text, stat;
    try {
        text = read_file_if_exists(fmt::format("/proc/{}/cgroup", rec.victim_pid));
        stat = read_file_if_exists(fmt::format("/proc/{}/stat", rec.victim_pid));
    } catch (const Error&) {
        return;
    }
    if (!text) return;
    std::uint64_t start_ticks = 0;
    if (auto st = parse_proc_stat(stat.value_or(""))) start_ticks = st->start_ticks;
    for (const ProcCgroup& cg : parse_proc_cgroup(*text)) {
        for (auto& r : runner.runs)
            if (r && r->attribution_id() && !r->box_name().empty() && cgroup_path_matches(cg.path, r->box_name())) {
                runner.attribution.seen(*r->attribution_id(), rec.victim_pid, start_ticks, kill_time_s(rec));
                return;
            }
    }
}

}  // namespace

// ---- Runner -----------------------------------------------------------------------------------

void Runner::poll_oom() {
    if (!opts.oom || opts.oom->fd() < 0) return;
    for (auto& rec : opts.oom->poll()) {
        if (!has_header(rec)) see_victim(*this, rec);
        if (auto owner = attribution.owner(rec)) {
            for (auto& r : runs)
                if (r && r->attribution_id() == owner) r->take_oom(rec);
            continue;
        }
        if (!has_header(rec) && !rec.global) {
            if (pending_headerless.size() < kPendingMax) pending_headerless.push_back(std::move(rec));
            continue;
        }
        // In corral's own subtree but in no suite: the run-level part of the report.
        bool ours = !opts.launcher_memcg.empty() && (cgroup_path_matches(rec.task_memcg, opts.launcher_memcg) ||
                                                     cgroup_path_matches(rec.oom_memcg, opts.launcher_memcg));
        if (ours) run_oom_records.push_back(oom_record_to_json(rec, WhoseLimit::Ancestor, 0, wall_clock_offset()));
    }
    claim_pending();
}

void Runner::claim_pending() {
    for (auto it = pending_headerless.begin(); it != pending_headerless.end();) {
        const double kill_s = kill_time_s(*it);
        SuiteRun* claimant = nullptr;
        int claimants = 0;
        bool undecided = false;
        for (auto& r : runs) {
            if (!r || !r->attribution_id()) continue;
            auto rose = r->kills_rose_around(kill_s);
            if (!rose) {
                undecided = true;  // no sample after the kill yet
                continue;
            }
            if (*rose && r->lacks_records()) {
                ++claimants;
                claimant = r.get();
            }
        }
        if (claimants == 1 && !undecided) {
            claimant->take_oom(*it);
            it = pending_headerless.erase(it);
        } else if (!undecided) {
            it = pending_headerless.erase(it);  // no box or several counted it: it stays nobody's
        } else {
            ++it;
        }
    }
}

// ---- SuiteRun ---------------------------------------------------------------------------------

void SuiteRun::log_oom_counters(std::uint64_t kills, std::uint64_t own_limit_hits, std::uint64_t bytes,
                                double t_mono) {
    if (!oom_counter_log_.empty()) {
        const auto& last = oom_counter_log_.back();
        if (kills < last.kills || own_limit_hits < last.own_limit_hits) return;  // the box is gone: zeros
    }
    oom_counter_log_.push_back(OomCounterSample{t_mono, kills, own_limit_hits, bytes});
    if (oom_counter_log_.size() > kCounterLogMax)
        oom_counter_log_.erase(oom_counter_log_.begin() + 1,  // keep the zeros at the box's creation
                               oom_counter_log_.begin() + static_cast<std::ptrdiff_t>(kCounterLogMax / 2));
}

std::optional<bool> SuiteRun::kills_rose_around(double kill_s) const {
    if (box_name_.empty() || kill_s < start_mono_s_ - kClockSlackS ||
        (end_mono_s_ && kill_s > *end_mono_s_ + kClockSlackS))
        return false;
    const CounterWindow w = counters_around(kill_s, oom_counter_log_, end_mono_s_.has_value());
    if (!w.after) return end_mono_s_ ? std::optional<bool>(false) : std::nullopt;
    return w.after->kills > w.before.kills;
}

bool SuiteRun::lacks_records() const {
    const std::uint64_t counted = std::max<std::uint64_t>(
        {oom_kills_seen_, res_.oom_kills, oom_counter_log_.empty() ? 0 : oom_counter_log_.back().kills});
    return counted > res_.oom_records.size();
}

void SuiteRun::take_oom(const OomRecord& rec) {
    const bool unboxed = box_name_.empty();
    const bool header = has_header(rec);
    WhoseLimit whose = unboxed ? (rec.global ? WhoseLimit::Host : WhoseLimit::Ancestor) : classify(rec, box_name_);
    OomKill k = make_oom_kill(rec, whose, start_mono_s_);
    const double kill_s = kill_time_s(rec);
    k.detail["header"] = header;
    k.detail["whose_limit_reason"] = header || unboxed ? header_reason(rec, whose, unboxed) : "";
    // The line printed when the kill came: what the suite was running then.
    const LineLog::At at = lines_.at(kill_s);
    k.detail["line_at_kill"] = at.known ? nlohmann::json(at.text) : nlohmann::json(nullptr);
    k.detail["line_at_kill_partial"] = at.known && at.partial;
    res_.oom_records.push_back(std::move(k));
    oom_meta_.push_back(RecordMeta{kill_s, !header && !unboxed, whose});
    if (!header) ++res_.oom_records_without_header;
    if (!first_kill_from_record_ || kill_s < *first_kill_s_) {
        first_kill_s_ = kill_s;
        first_kill_from_record_ = true;
        res_.line_at_first_kill = at.known ? at.text : "";
        res_.printed_before_first_kill = at.known;
    }
    if (phase_ == Phase::Releasing || phase_ == Phase::Done) {  // it came after the suite ended
        resolve_headerless();
        finalize(res_);
    }
}

void SuiteRun::resolve_headerless() {
    std::vector<std::pair<double, WhoseLimit>> complete;
    for (const auto& m : oom_meta_)
        if (!m.headerless && (m.whose == WhoseLimit::Own || m.whose == WhoseLimit::Ancestor))
            complete.emplace_back(m.kill_s, m.whose);
    for (std::size_t i = 0; i < oom_meta_.size() && i < res_.oom_records.size(); ++i) {
        if (!oom_meta_[i].headerless) continue;
        WhoseAnswer a = whose_without_header(oom_meta_[i].kill_s, oom_counter_log_, oom_own_source_,
                                             spec_.limits.memory_max, end_mono_s_.has_value(), complete);
        OomKill& k = res_.oom_records[i];
        k.whose = whose_limit_name(a.whose);
        k.detail["whose_limit"] = k.whose;
        k.detail["whose_limit_reason"] = a.reason;
    }
}

}  // namespace corral
