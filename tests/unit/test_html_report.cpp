// report.html and memory-<suite>.svg: the pure rendering (escaping, downsampling, axes, the plot's
// elements, file names), from report documents built with report_to_json.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "corral/base/error.hpp"
#include "corral/report/html_report.hpp"
#include "corral/report/markup.hpp"
#include "corral/report/memory_svg.hpp"
#include "corral/report/plot.hpp"
#include "corral/report/report.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

// Valid UTF-8 whatever went in: a strict dump throws on any bad byte.
bool valid_utf8(const std::string& s) {
    try {
        (void)json(s).dump();
        return true;
    } catch (const json::exception&) {
        return false;
    }
}

std::vector<std::string> labels(const std::vector<AxisTick>& ticks) {
    std::vector<std::string> out;
    for (const auto& t : ticks) out.push_back(t.label);
    return out;
}

// An OOM-killed suite with a timeout-free end, samples with lines, a kernel record and growth markers.
SuiteResult plotted_suite(const std::string& name, int samples, double interval_s) {
    SuiteResult s;
    s.name = name;
    s.command = "./alloc 512";
    s.limits.memory_max = 64 * MiB;
    s.limits.memory_high = 48 * MiB;
    s.duration_s = samples * interval_s;
    s.exit_code = 137;
    for (int i = 0; i < samples; ++i) {
        std::uint64_t bytes = (8 + static_cast<std::uint64_t>(i % 50)) * MiB;
        s.samples.append(i * interval_s, bytes, "test_" + std::to_string(i / 10) + " PASSED");
    }
    s.peak_bytes = 64 * MiB;
    s.oom_kills = 1;
    OomKill k;
    k.victim_pid = 4242;
    k.victim_comm = "alloc";
    k.detail = {{"t_s", s.duration_s * 0.75},
                {"victim", {{"pid", 4242}, {"comm", "alloc"}}},
                {"anon_rss_kb", 65536},
                {"whose_limit", "own"},
                {"victim_line", "Memory cgroup out of memory: Killed process 4242 (alloc)"}};
    s.oom_records = {k};
    finalize(s);
    return s;
}

json suite_json(const SuiteResult& s) { return json::parse(json(suite_to_json(s)).dump(-1, ' ', false, json::error_handler_t::replace)); }

}  // namespace

TEST_CASE("xml_escape escapes markup and keeps the text valid UTF-8", "[html]") {
    CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
    CHECK(xml_escape("tab\tnl\n") == "tab\tnl\n");
    CHECK(xml_escape("caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x90\x8D") == "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x90\x8D");
    // A lone byte, a cut sequence, an overlong '/', a surrogate and a control character each become U+FFFD.
    CHECK(xml_escape("x\xFFy") == "x\xEF\xBF\xBDy");
    CHECK(xml_escape("\xE2\x9C") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(xml_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(xml_escape(std::string("a\x1b[0mb\0c", 8)) == "a\xEF\xBF\xBD[0mb\xEF\xBF\xBD" "c");
}

TEST_CASE("downsampling keeps at most 2,000 points, the peak, the ends and the OOM samples", "[html][plot]") {
    std::vector<PlotPoint> pts;
    for (int i = 0; i < 6000; ++i) pts.push_back({i * 0.1, static_cast<std::uint64_t>(1000 + (i * 7919) % 997), "", "", false});
    pts[4321].bytes = 5000;  // the peak
    pts[4321].keep = true;
    for (int i : {10, 2500, 5990}) pts[i].keep = true;  // around OOM kills
    pts.push_back(pts[2500]);  // the same sample twice (samples and oom_samples) is one point

    auto out = downsample_points(pts);
    CHECK(out.size() <= kMaxPlotPoints);
    CHECK(out.size() >= kMaxPlotPoints - 4);  // the room is used
    CHECK(std::is_sorted(out.begin(), out.end(), [](auto& a, auto& b) { return a.t_s < b.t_s; }));
    std::set<double> times;
    for (const auto& p : out) times.insert(p.t_s);
    CHECK(times.size() == out.size());
    for (int i : {0, 10, 2500, 4321, 5990, 5999}) {
        INFO(i);
        CHECK(times.count(i * 0.1) == 1);
    }
    CHECK(std::max_element(out.begin(), out.end(), [](auto& a, auto& b) { return a.bytes < b.bytes; })->bytes == 5000);

    // Fewer than the bound: every point, duplicates merged.
    std::vector<PlotPoint> few = {{0.2, 5, "", "", false}, {0.1, 4, "", "", false}, {0.2, 5, "", "", true}};
    auto kept = downsample_points(few);
    REQUIRE(kept.size() == 2);
    CHECK(kept[0].t_s == 0.1);
    CHECK(kept[1].keep);
}

TEST_CASE("axis labels read well from a 100 ms run to a 3 h one", "[html][plot]") {
    CHECK(labels(time_ticks(0.1)) == std::vector<std::string>{"0", "0.02 s", "0.04 s", "0.06 s", "0.08 s", "0.10 s"});
    CHECK(labels(time_ticks(42)) == std::vector<std::string>{"0", "10 s", "20 s", "30 s", "40 s", "50 s"});
    CHECK(labels(time_ticks(600)) == std::vector<std::string>{"0", "2 min", "4 min", "6 min", "8 min", "10 min"});
    CHECK(labels(time_ticks(3 * 3600)) ==
          std::vector<std::string>{"0", "30 min", "1 h", "1 h 30 min", "2 h", "2 h 30 min", "3 h"});
    CHECK(labels(byte_ticks(66.5 * MiB)) == std::vector<std::string>{"0", "20 MiB", "40 MiB", "60 MiB", "80 MiB"});
    CHECK(labels(byte_ticks(3.0 * 1024 * MiB)) == std::vector<std::string>{"0", "1 GiB", "2 GiB", "3 GiB"});
    CHECK(labels(byte_ticks(1.2 * 1024 * MiB)) ==
          std::vector<std::string>{"0", "0.25 GiB", "0.50 GiB", "0.75 GiB", "1.00 GiB", "1.25 GiB"});
    CHECK(plot_time(0.085) == "85 ms");
    CHECK(plot_time(125) == "2 min 5 s");
    CHECK(plot_time(3 * 3600 + 180) == "3 h 3 min");
}

TEST_CASE("the memory plot draws each sample, the limits, the OOM kill, the timeout and the SIGKILL", "[html][plot]") {
    SuiteResult s = plotted_suite("oom", 30, 0.1);
    s.timeout_at_s = 2.5;
    s.sigkill_at_s = 2.9;
    json j = suite_json(s);
    REQUIRE(j.at("timeout_at_s") == 2.5);
    REQUIRE(j.at("sigkill_at_s") == 2.9);
    std::string svg = render_memory_svg(j);
    CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    CHECK_THAT(svg, Contains("data-points=\"30\""));
    CHECK(count_of(svg, "class=\"cm-s\"") == 30);
    CHECK(count_of(svg, "<polyline class=\"cm-curve\"") == 1);
    CHECK(count_of(svg, "class=\"cm-oom-marker\"") == 1);
    CHECK_THAT(svg, Contains("victim 4242 (alloc)"));
    CHECK(count_of(svg, "class=\"cm-timeout-marker\"") == 1);
    CHECK(count_of(svg, "class=\"cm-kill-marker\"") == 1);
    CHECK(count_of(svg, "<line class=\"cm-max\"") == 1);
    CHECK(count_of(svg, "<line class=\"cm-high\"") == 1);
    CHECK_THAT(svg, Contains("printed: test_2 PASSED"));
    CHECK_THAT(svg, Contains("PSI not sampled"));
    CHECK(svg.find("http") == svg.find("http://www.w3.org/2000/svg"));  // the namespace is its only URL
}

TEST_CASE("the plot shades the PSI full stall and highlights the growth analysis' top markers", "[html][plot]") {
    SuiteResult s = plotted_suite("leak", 40, 0.5);
    s.pressure.append({0.0, 0, 0, 0, 0});
    s.pressure.append({10.0, 50, 40, 6'000'000, 4'000'000});  // 40% of 10 s stalled
    s.pressure.append({20.0, 0, 0, 6'000'000, 4'000'000});    // none after
    Growth g;
    g.summary = "Leak: memory grew 1 MiB per test.";
    g.top.push_back({"test_leaky", 3 * MiB, 3 * MiB, 40 * MiB, 4.0, 6.0});
    s.growth = g;
    json j = suite_json(s);
    std::string svg = render_memory_svg(j);
    CHECK(count_of(svg, "<rect class=\"cm-psi\"") == 1);
    CHECK_THAT(svg, Contains("PSI full 40%"));
    CHECK(count_of(svg, "<polyline class=\"cm-hot\"") == 1);
    CHECK_THAT(svg, Contains("#1 test_leaky: grew 3 MiB"));
    std::string html = render_html(json{{"suites", json::array({j})}});
    CHECK_THAT(html, Contains("Leak: memory grew 1 MiB per test."));
    CHECK_THAT(html, Contains("<code>test_leaky</code> grew 3 MiB"));
}

TEST_CASE("report.html: the run, one row and one plot per suite, links to each plot", "[html]") {
    RunReport r;
    r.backend = "cgroup-v1";
    r.host = "ci-runner-7";
    r.started_at = "2026-11-29T17:00:00Z";
    r.duration_s = 3.4;
    r.corral_version = "0.1.0";
    SuiteResult ok;
    ok.name = "unit";
    ok.command = "make check";
    ok.exit_code = 0;
    ok.duration_s = 0.6;
    ok.limits.memory_max = 64 * MiB;
    ok.peak_bytes = 16 * MiB;
    ok.samples.append(0.1, 16 * MiB, "");
    finalize(ok);
    r.suites = {ok, plotted_suite("db/it", 20, 0.1)};
    json doc = report_to_json(r);
    CHECK(doc.at("host") == "ci-runner-7");
    std::string html = render_html(doc);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK_THAT(html, Contains("<td>ci-runner-7</td>"));
    CHECK_THAT(html, Contains("<td>cgroup-v1</td>"));
    CHECK(count_of(html, "<svg ") == 2);
    CHECK(count_of(html, "<tr><td><a href=\"#suite-") == 2);
    CHECK_THAT(html, Contains("<span class=\"verdict v-passed\">passed</span>"));
    CHECK_THAT(html, Contains("<span class=\"verdict v-oom-killed\">oom-killed</span>"));
    CHECK_THAT(html, Contains("16 MiB / 64 MiB (25%)"));
    CHECK_THAT(html, Contains("<a href=\"memory-unit.svg\">"));
    CHECK_THAT(html, Contains("<a href=\"memory-db~2Fit.svg\">"));
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("report.html escapes what the suite printed and survives bytes that are not UTF-8", "[html]") {
    SuiteResult s = plotted_suite("x<y>&z", 5, 0.1);
    s.command = "echo '<b>hi</b>' \xFF";
    s.samples.append(0.6, 9 * MiB, "<script>alert(1)</script> \xC3\x28 done");
    s.explanation = "it printed \"<img src=x>\"";
    RunReport r;
    r.suites = {s};
    std::string html = render_html(report_to_json(r));  // the in-memory document, invalid bytes and all
    CHECK(valid_utf8(html));
    CHECK(html.find("<script>") == std::string::npos);
    CHECK_THAT(html, Contains("&lt;script&gt;alert(1)&lt;/script&gt; \xEF\xBF\xBD( done"));
    CHECK_THAT(html, Contains("x&lt;y&gt;&amp;z"));
    CHECK(html.find("<img") == std::string::npos);
    CHECK(html.find("<b>hi") == std::string::npos);
    CHECK_THAT(html, Contains("memory-x~3Cy~3E~26z.svg"));
}

TEST_CASE("plot file names are safe, distinct and short enough", "[html]") {
    CHECK(memory_svg_file_name("unit") == "memory-unit.svg");
    CHECK(memory_svg_file_name("e2e.3") == "memory-e2e.3.svg");
    CHECK(memory_svg_file_name("a/b") == "memory-a~2Fb.svg");
    CHECK(memory_svg_file_name("..") == "memory-...svg");
    CHECK(memory_svg_file_name("a~2Fb") == "memory-a~7E2Fb.svg");  // not the file of "a/b"
    CHECK(memory_svg_file_name("caf\xC3\xA9") == "memory-caf~C3~A9.svg");
    std::string a(300, 'x'), b = a;
    b.back() = 'y';
    CHECK(memory_svg_file_name(a).size() <= 255);
    CHECK(memory_svg_file_name(a) != memory_svg_file_name(b));
}

TEST_CASE("report.html refuses a document whose fields have the wrong type, naming the field", "[html]") {
    CHECK_THROWS_WITH(render_html(json::array()), Contains("not a JSON object"));
    CHECK_THROWS_WITH(render_html(json{{"suites", 3}}), Contains("'suites'"));
    json bad = suite_json(plotted_suite("s", 3, 0.1));
    bad["memory"]["samples"][1] = "oops";
    CHECK_THROWS_WITH(render_html(json{{"suites", json::array({bad})}}), Contains("memory.samples"));
    json bad_limit = suite_json(plotted_suite("s", 3, 0.1));
    bad_limit["limits"]["memory_max_bytes"] = "lots";
    CHECK_THROWS_WITH(render_memory_svg(bad_limit), Contains("'memory_max_bytes' is a string"));
}

TEST_CASE("a 10-minute suite sampled every 100 ms gives a page of bounded size", "[html][plot]") {
    RunReport r;
    r.suites = {plotted_suite("long", 6000, 0.1)};
    json doc = report_to_json(r);
    REQUIRE(doc.at("suites")[0].at("memory").at("samples").size() == 6000);
    auto pts = memory_plot_points(doc.at("suites")[0]);
    CHECK(pts.size() == kMaxPlotPoints);
    std::string html = render_html(doc);
    CHECK(count_of(html, "class=\"cm-s\"") == kMaxPlotPoints);
    // Measured: see the README's report.html section; bounded here so that a change that bloats it fails.
    CHECK(html.size() < 600 * 1024);
}
