#include "corral/report/split_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace corral {

using nlohmann::json;

namespace {

constexpr std::size_t kSummaryRanks = 5;  // ranking lines the summary prints per split

SplitRun& run_of(std::vector<SplitRun>& runs, const SplitBatch& b) {
    for (SplitRun& r : runs)
        if (r.name == b.of) return r;
    runs.push_back(SplitRun{b.of, b.batches, {}, {}});
    return runs.back();
}

}  // namespace

std::vector<SplitRun> split_runs(const std::vector<SuiteResult>& suites, const std::vector<SplitBatch>& not_run) {
    std::vector<SplitRun> runs;
    for (const SuiteResult& s : suites)
        if (s.split) run_of(runs, *s.split).ranking.push_back(&s);
    for (const SplitBatch& b : not_run) run_of(runs, b).not_run.push_back(&b);
    for (SplitRun& r : runs) {
        std::stable_sort(r.ranking.begin(), r.ranking.end(), [](const SuiteResult* a, const SuiteResult* b) {
            auto key = [](const SuiteResult* s) {
                return std::make_tuple(s->verdict == Verdict::Passed, ~s->peak_bytes.value_or(0), s->split->index);
            };
            return key(a) < key(b);
        });
        std::sort(r.not_run.begin(), r.not_run.end(),
                  [](const SplitBatch* a, const SplitBatch* b) { return a->index < b->index; });
    }
    return runs;
}

json splits_json(const std::vector<SplitRun>& splits) {
    json out = json::array();
    for (const SplitRun& r : splits) {
        json verdicts = json::object();
        json ranking = json::array();
        for (const SuiteResult* s : r.ranking) {
            const std::string v = verdict_name(s->verdict);
            verdicts[v] = verdicts.value(v, 0) + 1;
            ranking.push_back({{"index", s->split->index},
                               {"items", s->split->items},
                               {"verdict", v},
                               {"peak_bytes", s->peak_bytes ? json(*s->peak_bytes) : json(nullptr)},
                               {"duration_s", s->duration_s}});
        }
        json not_run = json::array();
        for (const SplitBatch* b : r.not_run) not_run.push_back({{"index", b->index}, {"items", b->items}});
        out.push_back({{"name", r.name},
                       {"batches", r.batches},
                       {"verdicts", std::move(verdicts)},
                       {"not_run", r.not_run.size()},
                       {"not_run_batches", std::move(not_run)},
                       {"ranking", std::move(ranking)}});
    }
    return out;
}

std::string items_text(const std::vector<std::string>& items) {
    constexpr std::size_t kShown = 3;
    std::vector<std::string> shown(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), kShown)));
    std::string out = fmt::format("{}", fmt::join(shown, ", "));
    if (items.size() > kShown) out += fmt::format(" and {} more", items.size() - kShown);
    return out;
}

std::string splits_summary(const std::vector<SplitRun>& splits) {
    std::string out;
    for (const SplitRun& r : splits) {
        std::map<Verdict, std::size_t> counts;
        for (const SuiteResult* s : r.ranking) ++counts[s->verdict];
        const bool all_passed = r.not_run.empty() && counts.size() == 1 && counts.count(Verdict::Passed);
        std::string line = fmt::format("  split {}: {} batch{}", r.name, r.batches, r.batches == 1 ? "" : "es");
        if (all_passed) {
            line += r.batches == 1 ? ", which passed" : ", every one passed";
            const SuiteResult* largest = r.ranking.front();
            const Limits& limits = largest->limits;
            if (has_memory_max(limits))
                line += fmt::format(": no single batch reaches memory.max ({}) on its own",
                                    format_bytes(*limits.memory_max));
            if (largest->peak_bytes)
                line += fmt::format("; the largest, {}, peaked at {}{}", items_text(largest->split->items),
                                    format_bytes(*largest->peak_bytes),
                                    has_memory_max(limits)
                                        ? fmt::format(" ({})", percent_of(*largest->peak_bytes, *limits.memory_max))
                                        : std::string(" (no memory.max)"));
            line += ".";
        } else {
            std::vector<std::string> parts;
            // Non-passing verdicts first, in the order of the enum (the worst kinds first).
            for (const auto& [v, n] : counts)
                if (v != Verdict::Passed) parts.push_back(fmt::format("{} {}", n, verdict_name(v)));
            if (counts.count(Verdict::Passed)) parts.push_back(fmt::format("{} passed", counts[Verdict::Passed]));
            if (!r.not_run.empty()) parts.push_back(fmt::format("{} not run (fail_fast)", r.not_run.size()));
            line += fmt::format(": {}", fmt::join(parts, ", "));
        }
        out += line + "\n";
        std::size_t name_w = 0, peak_w = 0;
        const std::size_t shown = std::min(r.ranking.size(), kSummaryRanks);
        for (std::size_t i = 0; i < shown; ++i) {
            name_w = std::max(name_w, r.ranking[i]->name.size());
            peak_w = std::max(peak_w, peak_text(*r.ranking[i], PeakStyle::Compact).size());
        }
        for (std::size_t i = 0; i < shown; ++i) {
            const SuiteResult& s = *r.ranking[i];
            out += fmt::format("    {}. {:<{}}  {:<12} {:>7}  {:<{}}  {}\n", i + 1, s.name, name_w,
                               verdict_name(s.verdict), format_seconds(s.duration_s),
                               peak_text(s, PeakStyle::Compact), peak_w, items_text(s.split->items));
        }
        if (r.ranking.size() > shown) out += fmt::format("    … {} more in report.json's splits\n", r.ranking.size() - shown);
    }
    return out;
}

}  // namespace corral
