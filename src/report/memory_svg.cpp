#include "corral/report/memory_svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "corral/base/error.hpp"
#include "corral/profile/quantities.hpp"
#include "corral/report/json_fields.hpp"
#include "corral/report/markup.hpp"

namespace corral {

using nlohmann::json;

namespace {

// Geometry of the plot, in SVG user units.
constexpr double kWidth = 900, kHeight = 330;
constexpr double kLeft = 76, kRight = 18, kTop = 40, kBottom = 46;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
// PSI is drawn in at most this many bands; OOM kills beyond this many are counted, not drawn.
constexpr std::size_t kMaxPsiBands = 600;
constexpr std::size_t kMaxOomMarkers = 500;
// A memory.max above this many times the peak is said, not drawn (the curve would be a flat line).
constexpr double kLimitOffScale = 4;

// The style of every plot; the same text in each, so a page that inlines several stays consistent.
constexpr const char* kSvgStyle =
    ".cm-bg{fill:#fff}.cm-grid{stroke:#e4e4e4;stroke-width:1}.cm-axis{stroke:#555;stroke-width:1}"
    ".cm-tick{font:11px sans-serif;fill:#444}.cm-label{font:12px sans-serif;fill:#222}"
    ".cm-area{fill:#3b7dd8;fill-opacity:.15;stroke:none}.cm-curve{fill:none;stroke:#1f5fbf;stroke-width:1.6;"
    "stroke-linejoin:round}.cm-hot{fill:none;stroke:#e8900c;stroke-width:3.2;stroke-linejoin:round}"
    ".cm-s{fill:none;pointer-events:all}.cm-s:hover{fill:#1f5fbf;fill-opacity:.12}"
    ".cm-max{stroke:#c62828;stroke-width:1.4;stroke-dasharray:6 4}.cm-high{stroke:#ef6c00;stroke-width:1.2;"
    "stroke-dasharray:3 3}.cm-psi{fill:#8e24aa}.cm-growth{fill:#ffd54f;fill-opacity:.35}"
    ".cm-oom{stroke:#b71c1c;stroke-width:1.5}.cm-oomhead{fill:#b71c1c}.cm-timeout{stroke:#ef6c00;stroke-width:2;"
    "stroke-dasharray:8 3}.cm-kill{stroke:#4a148c;stroke-width:2}.cm-peak{fill:#1f5fbf;stroke:#fff}"
    ".cm-note{font:12px sans-serif;fill:#666}.cm-l-max{fill:#c62828}.cm-l-high{fill:#ef6c00}"
    ".cm-l-psi{fill:#8e24aa}.cm-l-oom{fill:#b71c1c}.cm-l-kill{fill:#4a148c}.cm-l-growth{fill:#a07800}";

struct Scale {
    double t_max = 1, bytes_max = 1;
    double x(double t) const { return kLeft + std::clamp(t / t_max, 0.0, 1.0) * kPlotW; }
    double y(double b) const { return kTop + kPlotH - std::clamp(b / bytes_max, 0.0, 1.0) * kPlotH; }
};

// rows[i][k] of an array of arrays, checked.
double row_num(const json& row, std::size_t k, const char* field) {
    if (!row.is_array() || row.size() <= k || !row[k].is_number())
        throw Error(fmt::format("report field '{}' has a row that is not an array with a number at {}: {}", field, k,
                                row.dump(-1, ' ', false, json::error_handler_t::replace)));
    return row[k].get<double>();
}

std::string row_line(const json& row, std::size_t k) {
    return row.size() > k && row[k].is_string() ? row[k].get<std::string>() : std::string();
}

const json& rows_of(const json& parent, const char* key, const char* field) {
    const json& v = field_node(parent, key);
    if (!v.is_null() && !v.is_array()) throw Error(fmt::format("report field '{}' is not an array", field));
    return v;
}

std::string line_text(const std::string& line) {
    return line.empty() ? std::string("(nothing printed yet)") : "printed: " + line;
}

std::string sample_title(const PlotPoint& p) {
    std::string head = plot_time(p.t_s) + ": " + format_bytes(p.bytes);
    if (!p.note.empty()) return head + " (" + p.note + ")";
    return head + "\n" + line_text(p.line);
}

struct Marker {
    double t_s;
    std::string title;
};

// An interval between two PSI readings and the share of it in which every task stalled on memory.
struct Stall {
    double t0, t1, frac;
};

// PSI "full" stall per interval, from the cumulative totals of the history buckets and the samples.
std::vector<Stall> psi_full_stalls(const json& pressure) {
    std::vector<std::pair<double, double>> totals;  // (t, full_total_us)
    for (const auto& row : rows_of(pressure, "history", "memory.pressure.history"))
        totals.emplace_back(row_num(row, 1, "memory.pressure.history"), row_num(row, 5, "memory.pressure.history"));
    for (const auto& row : rows_of(pressure, "samples", "memory.pressure.samples"))
        totals.emplace_back(row_num(row, 0, "memory.pressure.samples"), row_num(row, 4, "memory.pressure.samples"));
    std::stable_sort(totals.begin(), totals.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::vector<Stall> out;
    for (std::size_t i = 1; i < totals.size(); ++i) {
        double dt = totals[i].first - totals[i - 1].first;
        if (dt <= 0) continue;
        double frac = (totals[i].second - totals[i - 1].second) / (dt * 1e6);
        out.push_back({totals[i - 1].first, totals[i].first, std::clamp(frac, 0.0, 1.0)});
    }
    return out;
}

class SvgWriter {
public:
    SvgWriter(const json& suite) : suite_(suite) {}
    std::string render();

private:
    void collect();
    void axes();
    void psi();
    void growth_bands();
    void limits();
    void curve();
    void markers();
    void legend();
    void vline(double t, const char* cls, const std::string& title, const std::string& label);

    const json& suite_;
    std::string name_;
    std::vector<PlotPoint> points_;
    std::optional<std::uint64_t> max_, high_;
    std::vector<Marker> ooms_;
    std::size_t oom_total_ = 0;
    std::optional<double> timeout_at_, sigkill_at_;
    std::vector<Stall> psi_;
    bool psi_sampled_ = false;
    const json* growth_top_ = nullptr;
    Scale sc_;
    std::string out_;
};

void SvgWriter::collect() {
    name_ = field_string(suite_, "name");
    points_ = memory_plot_points(suite_);
    const json& lim = field_node(suite_, "limits");
    max_ = field_limit_bytes(lim, "memory_max_bytes");
    high_ = field_limit_bytes(lim, "memory_high_bytes");
    timeout_at_ = field_number(suite_, "timeout_at_s");
    sigkill_at_ = field_number(suite_, "sigkill_at_s");
    const json& oom = field_node(suite_, "oom");
    for (const auto& rec : rows_of(oom, "records", "oom.records")) {
        auto t = field_number(rec, "t_s");
        if (!t) continue;
        ++oom_total_;
        if (ooms_.size() >= kMaxOomMarkers) continue;
        const json& victim = field_node(rec, "victim");
        std::string title = fmt::format("OOM kill at {}: victim {} ({})", plot_time(*t),
                                        field_number(victim, "pid").value_or(0), field_string(victim, "comm"));
        if (auto rss = field_number(rec, "anon_rss_kb"))
            title += ", anon-rss " + format_bytes(static_cast<std::uint64_t>(*rss) * 1024);
        std::string whose = field_string(rec, "whose_limit");
        if (!whose.empty()) title += ", " + whose + " limit";
        std::string line = field_string(rec, "victim_line");
        if (!line.empty()) title += "\nkernel: " + line;
        ooms_.push_back({*t, std::move(title)});
    }
    const json& memory = field_node(suite_, "memory");
    const json& pressure = field_node(memory, "pressure");
    psi_ = psi_full_stalls(pressure);
    psi_sampled_ = !psi_.empty();
    const json& growth = field_node(memory, "growth");
    const json& top = field_node(growth, "top");
    if (top.is_array() && !top.empty()) growth_top_ = &top;

    double t_max = field_number(suite_, "duration_s").value_or(0);
    double b_max = 0;
    for (const auto& p : points_) {
        t_max = std::max(t_max, p.t_s);
        b_max = std::max(b_max, static_cast<double>(p.bytes));
    }
    for (const auto& m : ooms_) t_max = std::max(t_max, m.t_s);
    for (auto t : {timeout_at_, sigkill_at_})
        if (t) t_max = std::max(t_max, *t);
    const double peak = b_max;
    for (auto lim_bytes : {max_, high_})
        if (lim_bytes && (peak == 0 || static_cast<double>(*lim_bytes) <= peak * kLimitOffScale))
            b_max = std::max(b_max, static_cast<double>(*lim_bytes));
    auto xt = time_ticks(t_max);
    auto yt = byte_ticks(b_max * 1.04);
    sc_.t_max = xt.back().value;
    sc_.bytes_max = yt.back().value;
}

void SvgWriter::axes() {
    for (const auto& t : byte_ticks(sc_.bytes_max)) {
        double y = sc_.y(t.value);
        out_ += fmt::format("<line class=\"cm-grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", svg_num(kLeft),
                            svg_num(y), svg_num(kLeft + kPlotW), svg_num(y));
        out_ += fmt::format("<text class=\"cm-tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                            svg_num(kLeft - 6), svg_num(y + 4), xml_escape(t.label));
    }
    for (const auto& t : time_ticks(sc_.t_max)) {
        double x = sc_.x(t.value);
        out_ += fmt::format("<line class=\"cm-grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", svg_num(x),
                            svg_num(kTop), svg_num(x), svg_num(kTop + kPlotH));
        out_ += fmt::format("<text class=\"cm-tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", svg_num(x),
                            svg_num(kTop + kPlotH + 15), xml_escape(t.label));
    }
    out_ += fmt::format("<line class=\"cm-axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", svg_num(kLeft),
                        svg_num(kTop), svg_num(kTop + kPlotH));
    out_ += fmt::format("<line class=\"cm-axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>", svg_num(kLeft),
                        svg_num(kTop + kPlotH), svg_num(kLeft + kPlotW));
    out_ += fmt::format("<text class=\"cm-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">time since the suite "
                        "started</text>",
                        svg_num(kLeft + kPlotW / 2), svg_num(kHeight - 8));
    out_ += fmt::format("<text class=\"cm-label\" transform=\"rotate(-90)\" x=\"{}\" y=\"14\" "
                        "text-anchor=\"middle\">memory in use</text>",
                        svg_num(-(kTop + kPlotH / 2)));
}

void SvgWriter::psi() {
    // Bands at least t_max / kMaxPsiBands wide, each shaded by the highest stall of its intervals.
    const double min_w = sc_.t_max / static_cast<double>(kMaxPsiBands);
    auto flush = [&](const Stall& b) {
        if (b.frac < 0.005) return;
        double x0 = sc_.x(b.t0), x1 = sc_.x(b.t1);
        out_ += fmt::format(
            "<rect class=\"cm-psi\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill-opacity=\"{:.2f}\">"
            "<title>PSI full {:.0f}%: every task stalled on memory for {:.0f}% of {} to {}</title></rect>",
            svg_num(x0), svg_num(kTop), svg_num(std::max(x1 - x0, 0.5)), svg_num(kPlotH), 0.08 + 0.5 * b.frac,
            b.frac * 100, b.frac * 100, plot_time(b.t0), plot_time(b.t1));
    };
    std::optional<Stall> band;
    for (const auto& s : psi_) {
        if (band && s.t1 - band->t0 > min_w) {
            flush(*band);
            band.reset();
        }
        if (!band) {
            band = s;
        } else {
            band->t1 = s.t1;
            band->frac = std::max(band->frac, s.frac);
        }
    }
    if (band) flush(*band);
}

void SvgWriter::growth_bands() {
    if (!growth_top_) return;
    std::size_t rank = 0;
    for (const auto& m : *growth_top_) {
        ++rank;
        auto t0 = field_number(m, "t_start_s"), t1 = field_number(m, "t_end_s");
        if (!t0 || !t1) continue;
        double x0 = sc_.x(*t0), x1 = sc_.x(*t1);
        std::string title = fmt::format("#{} {}: grew {} ({} to {})", rank, field_string(m, "marker"),
                                        format_bytes(static_cast<std::uint64_t>(field_number(m, "grew_bytes").value_or(0))),
                                        plot_time(*t0), plot_time(*t1));
        out_ += fmt::format("<g class=\"cm-top\"><rect class=\"cm-growth\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>"
                            "<text class=\"cm-tick cm-l-growth\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">#{}</text>"
                            "<title>{}</title></g>",
                            svg_num(x0), svg_num(kTop), svg_num(std::max(x1 - x0, 2.0)), svg_num(kPlotH),
                            svg_num((x0 + x1) / 2), svg_num(kTop + 12), rank, xml_escape(title));
    }
}

void SvgWriter::limits() {
    auto hline = [&](std::optional<std::uint64_t> v, const char* cls, const char* label_cls, const char* what) {
        if (!v) return;
        if (static_cast<double>(*v) > sc_.bytes_max) return;  // said in the legend instead
        double y = sc_.y(static_cast<double>(*v));
        out_ += fmt::format("<g><line class=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>"
                            "<text class=\"cm-tick {}\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{} {}</text>"
                            "<title>{} {}</title></g>",
                            cls, svg_num(kLeft), svg_num(y), svg_num(kLeft + kPlotW), svg_num(y), label_cls,
                            svg_num(kLeft + kPlotW - 4), svg_num(y - 4), what, format_bytes(*v), what,
                            format_bytes(*v));
    };
    hline(max_, "cm-max", "cm-l-max", "memory.max");
    hline(high_, "cm-high", "cm-l-high", "memory.high");
}

void SvgWriter::curve() {
    if (points_.empty()) {
        out_ += fmt::format("<text class=\"cm-note\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no memory samples</text>",
                            svg_num(kLeft + kPlotW / 2), svg_num(kTop + kPlotH / 2));
        return;
    }
    std::string pts;
    for (const auto& p : points_)
        pts += svg_num(sc_.x(p.t_s)) + "," + svg_num(sc_.y(static_cast<double>(p.bytes))) + " ";
    if (!pts.empty()) pts.pop_back();
    out_ += fmt::format("<path class=\"cm-area\" d=\"M{},{} L{} L{},{} Z\"/>", svg_num(sc_.x(points_.front().t_s)),
                        svg_num(sc_.y(0)), pts, svg_num(sc_.x(points_.back().t_s)), svg_num(sc_.y(0)));
    out_ += fmt::format("<polyline class=\"cm-curve\" points=\"{}\"/>", pts);
    // The growth analysis' top markers, highlighted on the curve.
    if (growth_top_)
        for (const auto& m : *growth_top_) {
            auto t0 = field_number(m, "t_start_s"), t1 = field_number(m, "t_end_s");
            if (!t0 || !t1) continue;
            std::string hot;
            for (const auto& p : points_)
                if (p.t_s >= *t0 && p.t_s <= *t1)
                    hot += svg_num(sc_.x(p.t_s)) + "," + svg_num(sc_.y(static_cast<double>(p.bytes))) + " ";
            if (hot.size() > 1) out_ += fmt::format("<polyline class=\"cm-hot\" points=\"{}\"/>", hot.substr(0, hot.size() - 1));
        }
    // One column per sample (to the midpoints with its neighbours) with the sample's tooltip.
    out_ += "<g class=\"cm-samples\">";
    for (std::size_t i = 0; i < points_.size(); ++i) {
        double x = sc_.x(points_[i].t_s);
        double x0 = i == 0 ? x - 2 : (sc_.x(points_[i - 1].t_s) + x) / 2;
        double x1 = i + 1 == points_.size() ? x + 2 : (x + sc_.x(points_[i + 1].t_s)) / 2;
        out_ += fmt::format("<rect class=\"cm-s\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
                            svg_num(x0), svg_num(kTop), svg_num(std::max(x1 - x0, 0.1)), svg_num(kPlotH),
                            xml_escape(sample_title(points_[i])));
    }
    out_ += "</g>";
    auto peak = std::max_element(points_.begin(), points_.end(),
                                 [](const PlotPoint& a, const PlotPoint& b) { return a.bytes < b.bytes; });
    out_ += fmt::format("<circle class=\"cm-peak\" cx=\"{}\" cy=\"{}\" r=\"4\"><title>peak {}</title></circle>",
                        svg_num(sc_.x(peak->t_s)), svg_num(sc_.y(static_cast<double>(peak->bytes))),
                        xml_escape(sample_title(*peak)));
}

void SvgWriter::vline(double t, const char* cls, const std::string& title, const std::string& label) {
    double x = sc_.x(t);
    out_ += fmt::format("<g class=\"{0}-marker\"><line class=\"{0}\" x1=\"{1}\" y1=\"{2}\" x2=\"{1}\" y2=\"{3}\"/>",
                        cls, svg_num(x), svg_num(kTop), svg_num(kTop + kPlotH));
    if (!label.empty())
        out_ += fmt::format("<text class=\"cm-tick\" x=\"{}\" y=\"{}\">{}</text>", svg_num(x + 3),
                            svg_num(kTop + kPlotH - 6), xml_escape(label));
    out_ += "<title>" + xml_escape(title) + "</title></g>";
}

void SvgWriter::markers() {
    for (const auto& m : ooms_) {
        double x = sc_.x(m.t_s);
        out_ += fmt::format("<g class=\"cm-oom-marker\"><line class=\"cm-oom\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" "
                            "y2=\"{2}\"/><path class=\"cm-oomhead\" d=\"M{3},{1} L{4},{1} L{0},{5} Z\"/>"
                            "<title>{6}</title></g>",
                            svg_num(x), svg_num(kTop), svg_num(kTop + kPlotH), svg_num(x - 6), svg_num(x + 6),
                            svg_num(kTop + 10), xml_escape(m.title));
    }
    if (timeout_at_) {
        std::string title = "timeout at " + plot_time(*timeout_at_);
        if (auto lim = field_number(field_node(suite_, "limits"), "timeout_s")) title += " (limit " + plot_time(*lim) + ")";
        vline(*timeout_at_, "cm-timeout", title + ": corral began to end the tree (SIGTERM)", "timeout");
    }
    if (sigkill_at_)
        vline(*sigkill_at_, "cm-kill", "SIGKILL at " + plot_time(*sigkill_at_) + ": corral killed what was left",
              "SIGKILL");
}

void SvgWriter::legend() {
    std::string items = "<tspan fill=\"#1f5fbf\">━ memory</tspan>";
    auto limit_item = [&](std::optional<std::uint64_t> v, const char* cls, const char* what) {
        if (!v) return fmt::format("  <tspan class=\"{}\">no {}</tspan>", cls, what);
        bool off = static_cast<double>(*v) > sc_.bytes_max;
        return fmt::format("  <tspan class=\"{}\">╌ {} {}{}</tspan>", cls, what, format_bytes(*v),
                           off ? " (above the plot)" : "");
    };
    items += limit_item(max_, "cm-l-max", "memory.max");
    if (high_) items += limit_item(high_, "cm-l-high", "memory.high");
    items += psi_sampled_ ? "  <tspan class=\"cm-l-psi\">▮ PSI full stall</tspan>"
                          : "  <tspan class=\"cm-note\">PSI not sampled</tspan>";
    if (oom_total_ > 0)
        items += fmt::format("  <tspan class=\"cm-l-oom\">▼ OOM kill{} ({}{})</tspan>", oom_total_ == 1 ? "" : "s",
                             oom_total_, ooms_.size() < oom_total_ ? fmt::format(", {} drawn", ooms_.size()) : "");
    if (timeout_at_) items += "  <tspan class=\"cm-l-high\">┆ timeout</tspan>";
    if (sigkill_at_) items += "  <tspan class=\"cm-l-kill\">│ SIGKILL</tspan>";
    if (growth_top_) items += "  <tspan class=\"cm-l-growth\">▮ top growth markers</tspan>";
    out_ += fmt::format("<text class=\"cm-label\" x=\"{}\" y=\"16\">memory of suite {}</text>", svg_num(kLeft),
                        xml_escape(name_));
    out_ += fmt::format("<text class=\"cm-tick\" x=\"{}\" y=\"32\">{}</text>", svg_num(kLeft), items);
}

std::string SvgWriter::render() {
    collect();
    out_ = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"corral-memory\" viewBox=\"0 0 {0} {1}\" "
                       "width=\"{0}\" height=\"{1}\" role=\"img\" data-suite=\"{2}\" data-points=\"{3}\">",
                       svg_num(kWidth), svg_num(kHeight), xml_escape(name_), points_.size());
    out_ += "<title>memory of suite " + xml_escape(name_) + "</title><style>" + kSvgStyle + "</style>";
    out_ += fmt::format("<rect class=\"cm-bg\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\"/>", svg_num(kWidth),
                        svg_num(kHeight));
    axes();
    psi();
    growth_bands();
    curve();
    limits();
    markers();
    legend();
    out_ += "</svg>";
    return std::move(out_);
}

}  // namespace

std::vector<PlotPoint> memory_plot_points(const json& suite) {
    const json& memory = field_node(suite, "memory");
    std::vector<PlotPoint> pts;
    for (const auto& row : rows_of(memory, "history", "memory.history")) {
        double t0 = row_num(row, 0, "memory.history"), t1 = row_num(row, 1, "memory.history");
        auto lo = static_cast<std::uint64_t>(row_num(row, 2, "memory.history"));
        auto hi = static_cast<std::uint64_t>(row_num(row, 3, "memory.history"));
        auto last = static_cast<std::uint64_t>(row_num(row, 4, "memory.history"));
        std::string note = fmt::format("samples {} to {} merged: {} to {}", plot_time(t0), plot_time(t1),
                                       format_bytes(lo), format_bytes(hi));
        pts.push_back({t0, hi, "", note, false});
        if (t1 > t0) pts.push_back({t1, last, "", note, false});
    }
    for (const auto& row : rows_of(memory, "samples", "memory.samples"))
        pts.push_back({row_num(row, 0, "memory.samples"), static_cast<std::uint64_t>(row_num(row, 1, "memory.samples")),
                       row_line(row, 2), "", false});
    for (const auto& row : rows_of(memory, "oom_samples", "memory.oom_samples"))
        pts.push_back({row_num(row, 0, "memory.oom_samples"),
                       static_cast<std::uint64_t>(row_num(row, 1, "memory.oom_samples")), row_line(row, 2), "", true});
    const json& peak = field_node(memory, "peak_sample");
    if (auto t = field_number(peak, "t_s"))
        pts.push_back({*t, static_cast<std::uint64_t>(field_number(peak, "bytes").value_or(0)),
                       field_string(peak, "last_line"), "", true});
    return downsample_points(std::move(pts));
}

std::string render_memory_svg(const json& suite) {
    return SvgWriter(suite).render();
}

std::string memory_svg_file_name(const std::string& suite_name) {
    std::string safe;
    for (unsigned char c : suite_name) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') safe += static_cast<char>(c);
        else safe += fmt::format("~{:02X}", c);
    }
    // "memory-" + name + ".svg" within 255 bytes; a cut name carries a hash (FNV-1a) of the whole.
    constexpr std::size_t kMaxName = 200;
    if (safe.size() > kMaxName) {
        std::uint64_t h = 14695981039346656037ull;
        for (unsigned char c : suite_name) h = (h ^ c) * 1099511628211ull;
        safe = fmt::format("{}~{:016x}", safe.substr(0, kMaxName - 17), h);
    }
    return "memory-" + safe + ".svg";
}

}  // namespace corral
