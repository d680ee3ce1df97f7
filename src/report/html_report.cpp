#include "corral/report/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "corral/base/error.hpp"
#include "corral/profile/quantities.hpp"
#include "corral/report/json_fields.hpp"
#include "corral/report/markup.hpp"
#include "corral/report/memory_svg.hpp"
#include "corral/report/plot.hpp"

namespace corral {

using nlohmann::json;

namespace {

constexpr const char* kPageStyle =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1b1b;background:#fafafa}"
    "h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px}"
    "table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;"
    "vertical-align:top}th{background:#f0f0f0}.run td:first-child{color:#555}"
    ".verdict{font-weight:600;padding:1px 8px;border-radius:4px;color:#fff;white-space:nowrap}"
    ".v-passed{background:#2e7d32}.v-failed{background:#c62828}.v-oom-killed{background:#8e0000}"
    ".v-timeout{background:#e65100}.v-signaled{background:#6a1b9a}.v-launch-error{background:#37474f}"
    ".v-interrupted{background:#616161}.v-other{background:#9e9e9e}"
    ".bar{width:140px;height:10px;background:#e8e8e8;border-radius:3px;overflow:hidden;margin-top:3px}"
    ".bar>div{height:100%;background:#1f5fbf}.bar>div.hot{background:#c62828}"
    ".num{text-align:right;white-space:nowrap}.suite{background:#fff;border:1px solid #ddd;padding:12px;"
    "margin-top:16px}.suite svg{max-width:100%;height:auto}code,pre{font:12px ui-monospace,monospace}"
    "pre{white-space:pre-wrap;background:#f5f5f5;padding:6px;margin:4px 0}.muted{color:#666}";

std::string esc(const std::string& s) { return xml_escape(s); }

std::string verdict_badge(const std::string& verdict) {
    static const char* kKnown[] = {"passed", "failed", "oom-killed", "timeout", "signaled", "launch-error", "interrupted"};
    bool known = std::find(std::begin(kKnown), std::end(kKnown), verdict) != std::end(kKnown);
    return fmt::format("<span class=\"verdict v-{}\">{}</span>", known ? verdict : "other",
                       esc(verdict.empty() ? "?" : verdict));
}

std::string bytes_or_na(std::optional<double> b) {
    return b ? format_bytes(static_cast<std::uint64_t>(*b)) : std::string("n/a");
}

// "48 MiB / 64 MiB (75%)" and a bar, or the peak alone without a memory.max.
std::string peak_cell(const json& suite) {
    auto peak = field_number(field_node(suite, "memory"), "peak_bytes");
    auto max = field_limit_bytes(field_node(suite, "limits"), "memory_max_bytes");
    if (!max) return esc(bytes_or_na(peak)) + " <span class=\"muted\">(no memory.max)</span>";
    double pct = peak && *max > 0 ? *peak / static_cast<double>(*max) * 100 : 0;
    return fmt::format("{} / {}{}<div class=\"bar\" title=\"{:.0f}% of memory.max\"><div{} style=\"width:{:.1f}%\">"
                       "</div></div>",
                       esc(bytes_or_na(peak)), esc(format_bytes(*max)),
                       !peak ? std::string() : pct > 0 && pct < 1 ? std::string(" (<1%)") : fmt::format(" ({:.0f}%)", pct), pct, pct >= 90 ? " class=\"hot\"" : "",
                       std::clamp(pct, 0.0, 100.0));
}

std::string anchor(std::size_t i) { return fmt::format("suite-{}", i + 1); }

std::string run_table(const json& report) {
    std::string out = "<table class=\"run\">";
    auto row = [&](const char* k, const std::string& v) { out += fmt::format("<tr><td>{}</td><td>{}</td></tr>", k, v); };
    row("backend", esc(field_string(report, "backend")));
    std::string host = field_string(report, "host");
    row("host", host.empty() ? "<span class=\"muted\">not recorded</span>" : esc(host));
    row("started", esc(field_string(report, "started_at")));
    row("duration", esc(plot_time(field_number(report, "duration_s").value_or(0))));
    row("corral", esc(field_string(report, "corral_version")));
    const json& oom = field_node(report, "oom");
    row("OOM records from", esc(field_string(oom, "source")));
    out += "</table>";
    const json& notes = field_node(report, "notes");
    if (notes.is_array() && !notes.empty()) {
        out += "<ul>";
        for (const auto& n : notes) out += "<li>note: " + esc(n.is_string() ? n.get<std::string>() : n.dump()) + "</li>";
        out += "</ul>";
    }
    return out;
}

std::string suites_table(const json& suites) {
    std::string out =
        "<table class=\"suites\"><tr><th>suite</th><th>verdict</th><th>duration</th><th>peak / memory.max</th>"
        "<th>OOM kills</th><th>explanation</th></tr>";
    for (std::size_t i = 0; i < suites.size(); ++i) {
        const json& s = suites[i];
        out += fmt::format("<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td>"
                           "<td class=\"num\">{}</td><td>{}</td></tr>",
                           anchor(i), esc(field_string(s, "name")), verdict_badge(field_string(s, "verdict")),
                           esc(plot_time(field_number(s, "duration_s").value_or(0))), peak_cell(s),
                           static_cast<std::uint64_t>(field_number(field_node(s, "oom"), "kills").value_or(0)),
                           esc(field_string(s, "explanation")));
    }
    return out + "</table>";
}

std::string growth_text(const json& growth) {
    if (!growth.is_object()) return "<p class=\"muted\">No growth analysis (no samples).</p>";
    std::string out = "<p><b>Growth:</b> " + esc(field_string(growth, "summary")) + "</p>";
    const json& top = field_node(growth, "top");
    if (top.is_array() && !top.empty()) {
        out += "<ol class=\"growth-top\">";
        for (const auto& m : top)
            out += fmt::format("<li><code>{}</code> grew {} ({} to {}), peak {}</li>", esc(field_string(m, "marker")),
                               esc(bytes_or_na(field_number(m, "grew_bytes"))),
                               esc(plot_time(field_number(m, "t_start_s").value_or(0))),
                               esc(plot_time(field_number(m, "t_end_s").value_or(0))),
                               esc(bytes_or_na(field_number(m, "peak_bytes"))));
        out += "</ol>";
    }
    return out;
}

std::string oom_list(const json& oom) {
    const json& records = field_node(oom, "records");
    if (!records.is_array() || records.empty()) return "";
    constexpr std::size_t kListed = 20;
    std::string out = "<p><b>OOM kills</b> (the kernel's records):</p><ul>";
    for (std::size_t k = 0; k < records.size() && k < kListed; ++k) {
        const json& r = records[k];
        auto t = field_number(r, "t_s");
        out += fmt::format("<li>{}: <code>{}</code></li>", esc(t ? plot_time(*t) : std::string("?")),
                           esc(field_string(r, "victim_line")));
    }
    if (records.size() > kListed) out += fmt::format("<li>… {} more in report.json</li>", records.size() - kListed);
    return out + "</ul>";
}

std::string suite_section(const json& s, std::size_t i) {
    const std::string name = field_string(s, "name");
    std::string out = fmt::format("<section class=\"suite\" id=\"{}\"><h2>{} {}</h2>", anchor(i), esc(name),
                                  verdict_badge(field_string(s, "verdict")));
    out += "<p>" + esc(field_string(s, "explanation")) + "</p>";
    out += "<p class=\"muted\">command:</p><pre>" + esc(field_string(s, "command")) + "</pre>";
    out += render_memory_svg(s);
    std::string file = memory_svg_file_name(name);
    out += fmt::format("<p><a href=\"{0}\">{0}</a>", esc(file));
    for (const char* stream : {"stdout", "stderr"}) {
        std::string f = field_string(s, stream);
        if (!f.empty()) out += fmt::format(" · <a href=\"{0}\">{0}</a>", esc(f));
    }
    out += "</p>";
    out += growth_text(field_node(field_node(s, "memory"), "growth"));
    out += oom_list(field_node(s, "oom"));
    const json& notes = field_node(s, "notes");
    if (notes.is_array())
        for (const auto& n : notes) out += "<p class=\"muted\">note: " + esc(n.is_string() ? n.get<std::string>() : n.dump()) + "</p>";
    return out + "</section>";
}

}  // namespace

std::string render_html(const json& report) {
    if (!report.is_object()) throw Error("the report document is not a JSON object");
    const json& suites = field_node(report, "suites");
    if (!suites.is_array()) throw Error("report field 'suites' is missing or not an array");
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width\"><title>corral report</title><style>";
    out += kPageStyle;
    out += "</style></head><body><h1>corral report</h1>";
    out += run_table(report);
    out += fmt::format("<h2>{} suite{}</h2>", suites.size(), suites.size() == 1 ? "" : "s");
    out += suites_table(suites);
    for (std::size_t i = 0; i < suites.size(); ++i)
        out += with_context(fmt::format("suite {}", i + 1), [&] { return suite_section(suites[i], i); });
    out += "</body></html>\n";
    return out;
}

}  // namespace corral
