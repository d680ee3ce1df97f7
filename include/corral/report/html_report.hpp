// report.html: one self-contained page (inline CSS and SVG, no script, no external URL) rendered
// from the report document (report.json), so that it opens from a CI artifact.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace corral {

// The page: the run (backend, host, start, duration, corral version), a table of the suites
// (verdict, duration, peak against memory.max with a bar, OOM kills, explanation), then per suite
// its memory plot (render_memory_svg), a link to memory-<name>.svg, the growth analysis and the OOM
// kills. Throws Error naming the field when the document has a field of the wrong type.
std::string render_html(const nlohmann::json& report);

}  // namespace corral
