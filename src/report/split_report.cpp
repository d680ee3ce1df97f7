#include "corral/report/split_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace corral {

using nlohmann::json;

namespace {

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

}  // namespace corral
