// The outputs rendered from a report document (report.json), found by name: `corral show` asks
// this table for each output it is given (--format, --html, --junit), so a renderer is wired in
// one place.
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
    OutputRenderer render;
};

// Every output corral knows.
const std::vector<Output>& outputs();

// The output of that name; throws Error naming the outputs there are when there is none.
const Output& find_output(std::string_view name);

// Renders the output `name` of the document; the renderer's errors carry the output's name as context.
std::string render_output(std::string_view name, const nlohmann::json& report, const std::filesystem::path& report_file);

}  // namespace corral
