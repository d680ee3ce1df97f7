#include "corral/report/step_summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "corral/profile/quantities.hpp"
#include "corral/report/ci_annotations.hpp"

namespace corral {

using nlohmann::json;

std::vector<std::pair<double, std::uint64_t>> memory_curve(const json& suite) {
    std::vector<std::pair<double, std::uint64_t>> points;
    const json& mem = suite.at("memory");
    for (const json& b : mem.value("history", json::array()))  // [t_start, t_end, min, max, last]
        points.emplace_back((b.at(0).get<double>() + b.at(1).get<double>()) / 2, b.at(3).get<std::uint64_t>());
    for (const json& s : mem.value("samples", json::array()))  // [t, bytes, line]
        points.emplace_back(s.at(0).get<double>(), s.at(1).get<std::uint64_t>());
    std::stable_sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return points;
}

std::string sparkline(const std::vector<std::pair<double, std::uint64_t>>& points, std::uint64_t top, std::size_t width) {
    static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    if (points.empty() || width == 0) return "";
    double end = 0;
    std::uint64_t largest = 0;
    for (const auto& [t, v] : points) {
        end = std::max(end, t);
        largest = std::max(largest, v);
    }
    if (top == 0) top = largest;
    std::vector<std::optional<std::uint64_t>> slices(width);
    for (const auto& [t, v] : points) {
        std::size_t i = end > 0 ? static_cast<std::size_t>(std::max(0.0, t) / end * static_cast<double>(width)) : 0;
        i = std::min(i, width - 1);
        slices[i] = std::max(slices[i].value_or(0), v);
    }
    std::string out;
    std::uint64_t last = slices.front().value_or(0);
    for (const auto& s : slices) {
        if (s) last = *s;
        const double frac = top > 0 ? std::min(1.0, static_cast<double>(last) / static_cast<double>(top)) : 0.0;
        out += kBars[static_cast<std::size_t>(std::lround(frac * 7))];
    }
    return out;
}

std::string markdown_cell(const std::string& text, std::size_t max_bytes) {
    std::string out;
    const std::string ellipsis = "…";
    std::size_t i = 0;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        std::string piece;
        if (c == '\n' || c == '\r' || c == '\t') piece = " ";
        else if (c == '&') piece = "&amp;";
        else if (c == '<') piece = "&lt;";
        else if (c == '>') piece = "&gt;";
        else if (std::string_view("|`*_[]\\").find(c) != std::string_view::npos) piece = std::string("\\") + c;
        else piece = std::string(1, c);
        if (out.size() + piece.size() + ellipsis.size() > max_bytes) break;  // room for "…" is kept
        out += piece;
    }
    if (i < text.size()) {
        // A cut inside a character: back to its start.
        if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) {
            while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
            if (!out.empty()) out.pop_back();
        }
        out += ellipsis;
    }
    return out;
}

namespace {

std::string peak_cell(const json& s) {
    const json& peak = s.at("memory").at("peak_bytes");
    const json& max = s.at("limits").at("memory_max_bytes");
    const std::string p = peak.is_number() ? format_bytes(peak.get<std::uint64_t>()) : "n/a";
    if (max.is_number()) {
        const auto m = max.get<std::uint64_t>();
        std::string pct = peak.is_number() && m > 0
                              ? fmt::format(" ({:.0f}%)", 100.0 * static_cast<double>(peak.get<std::uint64_t>()) / static_cast<double>(m))
                              : "";
        return fmt::format("{} / {}{}", p, format_bytes(m), pct);
    }
    return p + " / no limit";
}

}  // namespace

std::string render_step_summary_markdown(const json& report, std::size_t max_bytes) {
    const json& suites = report.at("suites");
    std::vector<const json*> order;
    std::size_t passed = 0;
    for (const json& s : suites) {
        order.push_back(&s);
        passed += s.at("verdict").get<std::string>() == "passed";
    }
    std::stable_sort(order.begin(), order.end(), [](const json* a, const json* b) {
        return verdict_severity(a->at("verdict").get<std::string>()) < verdict_severity(b->at("verdict").get<std::string>());
    });
    std::string out = fmt::format("### corral: {} suite{}, {} passed, {} not passed\n\n", suites.size(),
                                  suites.size() == 1 ? "" : "s", passed, suites.size() - passed);
    out += fmt::format("Backend {}, {}, started {}; report.json has the details.\n\n",
                       markdown_cell(report.value("backend", "?"), 64), format_seconds(report.value("duration_s", 0.0)),
                       markdown_cell(report.value("started_at", "?"), 64));
    out += "| suite | verdict | duration | peak / limit | memory | explanation |\n";
    out += "|---|---|---|---|---|---|\n";
    // What the "rows left out" line can take at most.
    constexpr std::size_t kTailLine = 200;
    std::size_t rows = 0;
    for (const json* s : order) {
        const std::string verdict = s->at("verdict").get<std::string>();
        const json& max = s->at("limits").at("memory_max_bytes");
        const std::string spark = sparkline(memory_curve(*s), max.is_number() ? max.get<std::uint64_t>() : 0);
        std::string row = fmt::format(
            "| {} | {} | {} | {} | {} | {} |\n", markdown_cell(s->at("name").get<std::string>(), 200),
            verdict == "passed" ? verdict : "**" + verdict + "**", format_seconds(s->at("duration_s").get<double>()),
            peak_cell(*s), spark.empty() ? "n/a" : "`" + spark + "`", markdown_cell(s->at("explanation").get<std::string>()));
        if (out.size() + row.size() + kTailLine > max_bytes) break;
        out += row;
        ++rows;
    }
    if (rows < order.size())
        out += fmt::format("\n{} more suite{} left out to keep this summary under {} bytes: report.json has them all.\n",
                           order.size() - rows, order.size() - rows == 1 ? " is" : "s are", max_bytes);
    return out;
}

}  // namespace corral
