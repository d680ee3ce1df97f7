// Writes report.html and each suite's memory-<name>.svg into the report directory.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace corral {

// DIR/report.html and DIR/memory-<name>.svg per suite (memory_svg_file_name), atomically, from the
// report document. Throws Error when two suites have the same name (their plots would share a file).
void write_html_outputs(const std::string& dir, const nlohmann::json& report);

}  // namespace corral
