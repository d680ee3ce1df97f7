// The run's view of its `split` suites: per split, the batches' verdicts and their ranking (the
// report's `splits`; the text summary renders them from it, report/summary).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "corral/report/result.hpp"

namespace corral {

// One split suite of a run: the batches that ran, ranked, and those fail_fast left out.
struct SplitRun {
    std::string name;     // the suite that was split
    std::size_t batches = 0;
    std::vector<const SuiteResult*> ranking;  // non-passing first, then by peak, largest first
    std::vector<const SplitBatch*> not_run;   // in batch order
};

// The splits of these suites, in the order their first batch appears.
std::vector<SplitRun> split_runs(const std::vector<SuiteResult>& suites, const std::vector<SplitBatch>& not_run);

// The report's `splits`: [{name, batches, verdicts: {VERDICT: count}, not_run, not_run_batches,
// ranking: [{index, items, verdict, peak_bytes, duration_s}]}].
nlohmann::json splits_json(const std::vector<SplitRun>& splits);

// "tests/a.py", "tests/a.py, tests/b.py", "tests/a.py, tests/b.py, tests/c.py and 2 more".
std::string items_text(const std::vector<std::string>& items);

}  // namespace corral
