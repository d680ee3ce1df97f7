// The GitHub Actions step summary ($GITHUB_STEP_SUMMARY, markdown), rendered from the report
// document: one table row per suite (suite, verdict, duration, peak / limit, a unicode sparkline of
// its memory curve, explanation), the most severe first, kept under kStepSummaryMaxBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace corral {

// GitHub takes up to 1 MiB of summary a step; corral's stays below it.
inline constexpr std::size_t kStepSummaryMaxBytes = 1024 * 1024 - 4096;
inline constexpr std::size_t kSparklineWidth = 24;

// (t_s, bytes) points of a suite's memory curve: its history buckets (their maximum, at their middle)
// and its recent samples, in time order.
std::vector<std::pair<double, std::uint64_t>> memory_curve(const nlohmann::json& suite);

// `width` characters of ▁▂▃▄▅▆▇█: the time from 0 to the last point cut into width equal slices,
// each the largest value in it (a slice without a point repeats the one before), scaled so that █ is
// `top` (0: the largest point). "" without points.
std::string sparkline(const std::vector<std::pair<double, std::uint64_t>>& points, std::uint64_t top,
                      std::size_t width = kSparklineWidth);

// A markdown table cell: | < > & ` * _ [ ] \ escaped, line breaks as spaces, cut to max_bytes (whole
// UTF-8 characters, "…" after a cut).
std::string markdown_cell(const std::string& text, std::size_t max_bytes = 400);

// The summary (markdown) for the report; at most max_bytes long: rows that do not fit are left
// out, and a last line says how many.
std::string render_step_summary_markdown(const nlohmann::json& report,
                                         std::size_t max_bytes = kStepSummaryMaxBytes);

}  // namespace corral
