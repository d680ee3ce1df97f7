// One suite's memory plot as SVG, rendered from the suite's object in the report document
// (report.json's suites[]): the curve, memory.max and memory.high, the PSI "full" stall, OOM kills,
// the timeout and the SIGKILL, and the growth analysis' top markers.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corral/report/plot.hpp"

namespace corral {

// The samples a suite's plot draws: memory.samples, memory.history (each bucket its highest value at
// its start and its last at its end), memory.oom_samples and memory.peak_sample (these two kept by
// downsampling), at most kMaxPlotPoints of them.
std::vector<PlotPoint> memory_plot_points(const nlohmann::json& suite);

// A standalone SVG document (inline CSS, no external reference) that an HTML page can also inline.
// Throws Error naming the field when the suite object has a field of the wrong type.
std::string render_memory_svg(const nlohmann::json& suite);

// The plot's file name beside report.json: "memory-<name>.svg", where the name keeps letters,
// digits, '.', '_' and '-' and writes any other byte as ~XX (hex; '~' itself too), so two names never
// give one file; a long name is cut, with a hash of the whole name, to stay under 255 bytes.
std::string memory_svg_file_name(const std::string& suite_name);

}  // namespace corral
