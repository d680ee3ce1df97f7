// The outputs rendered from a report document (report.json), found by name: `corral show` asks
// this table for each output it is given (--format, --html, --junit), so a renderer is wired in
// one place. An output whose renderer is not in this build is listed without one, and asking for
// it is an error that says so.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

// report: the document; report_file: the report.json it was read from (its directory holds the
// suites' output files; the text summary names it).
using OutputRenderer = std::function<std::string(const nlohmann::json& report, const std::filesystem::path& report_file)>;

struct Output {
    std::string name;         // "text", "json", "markdown", "html", "junit"
    std::string what;         // for messages: "the text summary"
    OutputRenderer render;    // empty: not available in this build
};

// Every output corral knows, available or not.
const std::vector<Output>& outputs();

// The output of that name; throws Error naming the outputs there are when there is none.
const Output& find_output(std::string_view name);

// Renders the output `name` of the document; throws Error "… is not available in this build" when
// its renderer is not there, and the renderer's own errors with the output's name as context.
std::string render_output(std::string_view name, const nlohmann::json& report, const std::filesystem::path& report_file);

}  // namespace corral
