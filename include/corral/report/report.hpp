// report.json (schema corral-report/1): the document every output is rendered from.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "corral/report/result.hpp"

namespace corral {

inline constexpr const char* kReportSchema = "corral-report/1";

struct RunReport {
    std::string backend;     // "cgroup-v1", "cgroup-v2", "systemd-scope", "unboxed"
    std::string host;        // the machine's host name (uname's nodename)
    std::string started_at;  // UTC ISO-8601
    double duration_s = 0;
    std::string corral_version;
    std::vector<std::string> notes;  // run-level (stale cgroups removed, …)
    std::vector<SuiteResult> suites;
    std::string oom_source = "none";  // "kmsg" | "journal" | "none"
    std::uint64_t oom_lost = 0;       // kmsg records overwritten before corral read them
    std::vector<nlohmann::json> run_oom_records;  // OOM kills in corral's subtree but in no suite
    std::vector<SplitBatch> not_run;  // batches of a `split: {fail_fast: true}` left out after one failed
};

nlohmann::json suite_to_json(const SuiteResult& s);
nlohmann::json report_to_json(const RunReport& r);
// report_to_json(r) as indented text with a final newline; bytes that are not valid UTF-8
// (output lines, command lines) become U+FFFD instead of failing.
std::string report_json_text(const RunReport& r);
// Writes DIR/report.json atomically (the suites' output files are written by the supervisor), then
// report.html and the memory-<name>.svg plots (report/html_outputs.hpp), and returns the document as
// the file holds it (read back from its text: what `corral show` reads; every output, the text
// summary too, is rendered from it).
nlohmann::json write_report(const std::string& dir, const RunReport& r);

}  // namespace corral
