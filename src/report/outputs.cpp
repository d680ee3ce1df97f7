#include "corral/report/outputs.hpp"

#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/report/html_report.hpp"
#include "corral/report/junit.hpp"
#include "corral/report/step_summary.hpp"
#include "corral/report/summary.hpp"

namespace corral {

using nlohmann::json;

const std::vector<Output>& outputs() {
    static const std::vector<Output> table = {
        {"text", "the text summary",
         [](const json& report, const std::filesystem::path& file) {
             return render_summary(report, file.parent_path().string(), file.filename().string());
         }},
        // The document itself, as corral writes it (indented by two, a final newline).
        {"json", "the report document",
         [](const json& report, const std::filesystem::path&) {
             return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
         }},
        {"markdown", "the markdown step summary",
         [](const json& report, const std::filesystem::path&) { return render_step_summary_markdown(report); }},
        {"html", "report.html", [](const json& report, const std::filesystem::path&) { return render_html(report); }},
        // junit.xml's system-out/system-err are the ends of the suites' output files beside report.json.
        {"junit", "junit.xml",
         [](const json& report, const std::filesystem::path& file) { return render_junit(report, file.parent_path()); }},
    };
    return table;
}

const Output& find_output(std::string_view name) {
    std::vector<std::string> names;
    for (const Output& o : outputs()) {
        if (o.name == name) return o;
        names.push_back(o.name);
    }
    throw Error(fmt::format("no output '{}' (there are: {})", name, fmt::join(names, ", ")));
}

std::string render_output(std::string_view name, const json& report, const std::filesystem::path& report_file) {
    const Output& o = find_output(name);
    return with_context("rendering " + o.what, [&] { return o.render(report, report_file); });
}

}  // namespace corral
