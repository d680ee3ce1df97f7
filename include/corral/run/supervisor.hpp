// Runs suites in their boxes from one event loop: output, samples, timeouts, ending trees.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "corral/box/backend.hpp"
#include "corral/profile/profile.hpp"
#include "corral/report/ci_annotations.hpp"
#include "corral/report/result.hpp"
#include "corral/run/progress_text.hpp"

namespace corral {

class OomWatch;
class Signals;

struct RunOptions {
    std::string report_dir;  // receives <suite>.stdout / <suite>.stderr
    int jobs = 1;            // suites at once
    bool prefix_output = false;  // "[suite] line" on corral's stdout/stderr
    // CI log blocks (GitHub ::group::, GitLab sections) around each suite's output on corral's stdout,
    // written through its live writer; set only when suites run one at a time.
    CiSystem ci_groups = CiSystem::None;
    std::string run_id;          // boxes are corral-<suite>-<run_id> (OOM record attribution)
    OomWatch* oom = nullptr;     // kernel OOM records, or none
    Duration oom_settle = std::chrono::milliseconds(200);  // keep reading after the last suite
    std::string child_oom_score_adj;  // the launcher's own before it protected itself ("" = inherit)
    std::string launcher_memcg;  // corral's own memory cgroup as the kernel names it ("" = root)
    // Chooses each suite's backend (profile `backend:`); returns nullptr with `error` set when the
    // one asked for is not available. Unset: every suite runs in the backend given to run_suites.
    std::function<Backend*(const SuiteSpec&, std::string& reason, std::string& error)> pick;
    // The backends' event fds (the systemd bus) to watch; every backend that pick may return.
    std::vector<Backend*> backends;
    // corral's signals, blocked by the caller until its report is written; null: run_suites blocks
    // them itself for the run.
    Signals* signals = nullptr;
    ProgressMode progress = ProgressMode::Auto;  // live progress on corral's stderr (run/progress.hpp)
};

struct RunOutcome {
    std::vector<SuiteResult> results;  // in the order of the suites given
    bool interrupted = false;
    std::vector<nlohmann::json> run_oom_records;  // OOM kills in corral's subtree but in no suite
    bool boxes_left = false;      // a box could not be removed (a later run removes it)
    std::uint64_t live_output_dropped = 0;  // bytes corral's stdout/stderr readers were too slow for
    // Batches of a `split: {fail_fast: true}` suite not started because one of its batches had
    // failed (indices into the suites given; their results are left empty).
    std::vector<size_t> not_run;
};

// Runs every suite (at most opts.jobs at once) and returns their results in the given order.
// A batch of a split suite with fail_fast is not started once a batch of it has ended without passing.
// SIGINT/SIGTERM to corral end every running suite's tree (SIGTERM, grace, SIGKILL) and the
// remaining suites are not started; the results say so.
RunOutcome run_suites(Backend& backend, const std::vector<SuiteSpec>& suites, const RunOptions& opts);

}  // namespace corral
