// Runs suites in their boxes from one event loop: output, samples, timeouts, ending trees.
#pragma once

#include <string>
#include <vector>

#include "corral/backend.hpp"
#include "corral/profile.hpp"
#include "corral/result.hpp"

namespace corral {

struct RunOptions {
    std::string report_dir;  // receives <suite>.stdout / <suite>.stderr
    int jobs = 1;            // suites at once
    bool prefix_output = false;  // "[suite] line" on corral's stdout/stderr
};

// Runs every suite (at most opts.jobs at once) and returns their results in the given order.
// SIGINT/SIGTERM to corral end every running suite's tree (SIGTERM, grace, SIGKILL) and the
// remaining suites are not started; the results say so.
std::vector<SuiteResult> run_suites(Backend& backend, const std::vector<SuiteSpec>& suites, const RunOptions& opts,
                                    bool& interrupted);

}  // namespace corral
