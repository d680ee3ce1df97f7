// The text summary that `corral run` prints at its end and `corral show` prints again: rendered
// from the report document (report.json) alone, so both print the same, on any machine.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace corral {

// Up to this many suites the summary prints each one in full; with more, the passed ones share one
// line ("58 passed; largest peak s51 488 KiB of 64 MiB") and the others are printed in full.
inline constexpr std::size_t kSummarySuitesInFull = 12;

// Per suite: verdict, duration, peak against memory.max, OOM kills, the explanation, the first
// kernel OOM records and the notes; then the splits, the run's notes and a count of the verdicts,
// ending with the report's path (report_dir/report_file; report_file alone when report_dir is "").
// Throws Error naming the JSON path of a field that is missing or of another type.
std::string render_summary(const nlohmann::json& report, const std::string& report_dir,
                           const std::string& report_file = "report.json");

}  // namespace corral
