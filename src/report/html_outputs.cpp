#include "corral/report/html_outputs.hpp"

#include <set>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/report/html_report.hpp"
#include "corral/report/json_fields.hpp"
#include "corral/report/memory_svg.hpp"

namespace corral {

void write_html_outputs(const std::string& dir, const nlohmann::json& report) {
    const auto& suites = field_node(report, "suites");
    std::set<std::string> files;
    if (suites.is_array())
        for (const auto& s : suites) {
            std::string name = field_string(s, "name");
            std::string file = memory_svg_file_name(name);
            if (!files.insert(file).second)
                throw Error("two suites are named '" + name + "': their memory plots would both be " + file);
            write_file_atomic(dir + "/" + file, render_memory_svg(s) + "\n");
        }
    write_file_atomic(dir + "/report.html", render_html(report));
}

}  // namespace corral
