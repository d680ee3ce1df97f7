// The text summary rendered from a report document, the document read back (`corral show`), and
// the table of outputs.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/report/outputs.hpp"
#include "corral/report/report_doc.hpp"
#include "corral/report/summary.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

const std::string kReports = std::string(CORRAL_FIXTURES_DIR) + "/reports";

json fixture(const std::string& name) { return json::parse(read_file(kReports + "/" + name + "/report.json")); }

// The message of the Error fn throws ("" and a failed check when it throws none).
template <class F>
std::string error_of(F&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    FAIL_CHECK("no error thrown");
    return "";
}

// A fresh directory under /tmp, removed with its contents at the end.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/corral-test-summary-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// The example run's fixture with its passed suite `unit` copied to `copies` suites s1, s2, … whose
// peaks are 10 KiB, 20 KiB, …, and copy `largest` (1-based) 488 KiB; then oom and hang.
json many_suites(std::size_t copies, std::size_t largest) {
    json doc = fixture("example");
    const json unit = doc["suites"][0], oom = doc["suites"][1], hang = doc["suites"][2];
    REQUIRE(unit["verdict"] == "passed");
    doc["suites"] = json::array();
    for (std::size_t i = 1; i <= copies; ++i) {
        json s = unit;
        s["name"] = "s" + std::to_string(i);
        s["memory"]["peak_bytes"] = i == largest ? 488 * 1024 : i * 10 * 1024;
        doc["suites"].push_back(s);
    }
    doc["suites"].push_back(oom);
    doc["suites"].push_back(hang);
    return doc;
}

}  // namespace

// The fixtures' summary.txt files are what corral printed (human_summary over its results, before the
// summary was rendered from the document) for the runs whose report.json lies beside them.
TEST_CASE("summary: up to 12 suites it is what corral printed for the same run before", "[summary]") {
    for (const char* name : {"example", "splits", "storm"}) {
        CAPTURE(name);
        const std::string expected = read_file(kReports + "/" + name + "/summary.txt");
        CHECK(render_summary(fixture(name), "corral-reports/" + std::string(name)) == expected);
    }
}

TEST_CASE("summary: more than 12 suites put the passed ones on one line with the largest peak", "[summary]") {
    SECTION("13 suites: 11 passed on one line, the other two in full") {
        const std::string text = render_summary(many_suites(11, 7), "r");
        INFO(text);
        CHECK_THAT(text, Catch::StartsWith("corral: 13 suites in 5.67s (cgroup-v1 backend)\n"
                                           "  11 passed; largest peak s7 488 KiB of 64 MiB\n"
                                           "  oom   oom-killed     930ms  peak 64 MiB / 64 MiB (100%)   OOM kills 1\n"));
        CHECK_THAT(text, Contains("\n  hang  timeout        4.05s  peak 708 KiB / 256 MiB (<1%)\n"
                                  "      Timed out after 3s (its timeout)"));
        CHECK_THAT(text, Contains("      kernel: Memory cgroup out of memory: Killed process 8937 (alloc)"));
        CHECK_THAT(text, !Contains("  s1 ") && !Contains("Exited 0"));
        CHECK_THAT(text, Contains("\n11 passed, 2 not passed — report: r/report.json\n"));
    }
    SECTION("12 suites are each printed in full") {
        const std::string text = render_summary(many_suites(10, 3), "r");
        INFO(text);
        CHECK_THAT(text, Contains("\n  s1    passed         647ms  peak 10 KiB / 64 MiB (<1%)\n"));
        CHECK_THAT(text, Contains("\n  s10   passed"));
        CHECK_THAT(text, !Contains("largest peak"));
    }
    SECTION("the largest passed suite without a memory.max, and none with a peak") {
        json doc = many_suites(12, 2);
        doc["suites"][1]["limits"]["memory_max_bytes"] = "infinity";
        CHECK_THAT(render_summary(doc, "r"), Contains("\n  12 passed; largest peak s2 488 KiB (no memory.max)\n"));
        for (std::size_t i = 0; i < 12; ++i) doc["suites"][i]["memory"]["peak_bytes"] = nullptr;
        CHECK_THAT(render_summary(doc, "r"), Contains("\n  12 passed; no peak measured\n"));
    }
    SECTION("every suite passed") {
        json doc = many_suites(14, 14);
        doc["suites"].erase(doc["suites"].end() - 2, doc["suites"].end());
        const std::string text = render_summary(doc, "r");
        CHECK(text.find("corral: 14 suites in 5.67s (cgroup-v1 backend)\n"
                        "  14 passed; largest peak s14 488 KiB of 64 MiB\n"
                        "  note: ") == 0);
        CHECK_THAT(text, Contains("\n14 passed, 0 not passed"));
    }
}

TEST_CASE("summary: a document without a field it needs is an error naming the field's path", "[summary]") {
    json doc = fixture("example");
    doc["suites"][1]["oom"].erase("kills");
    CHECK(error_of([&] { render_summary(doc, "r"); }) == "report field /suites/1/oom/kills: missing");
    doc = fixture("example");
    doc["suites"][2]["verdict"] = 3;
    CHECK(error_of([&] { render_summary(doc, "r"); }) == "report field /suites/2/verdict: expected a string, found 3");
    doc = fixture("example");
    doc["suites"][0]["limits"]["memory_max_bytes"] = "lots";
    CHECK_THAT(error_of([&] { render_summary(doc, "r"); }),
               Contains("report field /suites/0/limits/memory_max_bytes: expected a number, \"infinity\" or null"));
    doc = fixture("splits");
    doc["splits"][1]["ranking"][0]["index"] = 9;
    CHECK(error_of([&] { render_summary(doc, "r"); }) ==
          "report field /splits/1/ranking/0: no suite in /suites is batch 9 of split 'big'");
    CHECK(error_of([&] { DocField(json{{"a/b~", 1}})["a/b~"]["c"]; }) ==
          "report field /a~1b~0: expected an object with 'c', found 1");
}

TEST_CASE("show: a report is read from its directory or its file, and what cannot be read is a clear error",
          "[summary][show]") {
    TempDir tmp;
    const std::string text = read_file(kReports + "/example/report.json");
    write_file_atomic(tmp.path + "/report.json", text);
    write_file_atomic(tmp.path + "/copy.json", text);

    ReportDocument by_dir = load_report_document(tmp.path);
    CHECK(by_dir.file == tmp.path + "/report.json");
    CHECK(by_dir.dir == tmp.path);
    CHECK(by_dir.doc == json::parse(text));
    ReportDocument by_file = load_report_document(tmp.path + "/copy.json");
    CHECK(by_file.file == tmp.path + "/copy.json");
    CHECK(by_file.dir == tmp.path);
    CHECK(render_output("text", by_file.doc, by_file.file) ==
          render_summary(by_file.doc, tmp.path, "copy.json"));
    CHECK(json::parse(render_output("json", by_dir.doc, by_dir.file)) == by_dir.doc);

    SECTION("missing") {
        CHECK(error_of([&] { load_report_document(tmp.path + "/none.json"); }) ==
              "reading the report: open " + tmp.path + "/none.json: No such file or directory");
        std::filesystem::create_directory(tmp.path + "/empty");
        CHECK(error_of([&] { load_report_document(tmp.path + "/empty"); }) ==
              "reading the report: open " + tmp.path + "/empty/report.json: No such file or directory");
    }
    SECTION("not JSON: the byte, line and column") {
        write_file_atomic(tmp.path + "/bad.json", "{\n  \"schema\": \"corral-report/1\",\n  \"suites\": [}\n");
        const std::string e = error_of([&] { load_report_document(tmp.path + "/bad.json"); });
        CHECK_THAT(e, Catch::StartsWith(tmp.path + "/bad.json is not valid JSON (byte 47): parse error at line 3, "
                                        "column 14: syntax error while parsing value"));
        // A report cut short (a CI artifact whose upload stopped): where the text ends.
        write_file_atomic(tmp.path + "/cut.json", "{\n  \"schema\": \"corral-report/1\",\n  \"suites\": [\n");
        CHECK_THAT(error_of([&] { load_report_document(tmp.path + "/cut.json"); }),
                   Contains("is not valid JSON (byte 48): parse error at line 4, column 1: syntax error while parsing value - unexpected end of input"));
    }
    SECTION("a schema this corral does not know, or none") {
        json doc = json::parse(text);
        doc["schema"] = "corral-report/2";
        write_file_atomic(tmp.path + "/v2.json", doc.dump());
        CHECK(error_of([&] { load_report_document(tmp.path + "/v2.json"); }) ==
              tmp.path + "/v2.json: unknown report schema \"corral-report/2\": this corral reads corral-report/1 only");
        doc.erase("schema");
        write_file_atomic(tmp.path + "/none.json", doc.dump());
        CHECK(error_of([&] { load_report_document(tmp.path + "/none.json"); }) ==
              tmp.path + "/none.json: not a corral report: it has no 'schema' field (this corral reads corral-report/1)");
        write_file_atomic(tmp.path + "/list.json", "[1, 2]");
        CHECK(error_of([&] { load_report_document(tmp.path + "/list.json"); }) ==
              tmp.path + "/list.json: not a corral report: the document is an array, not an object");
    }
}

TEST_CASE("outputs: each is found by name and renders the example report", "[summary][show]") {
    const json doc = fixture("example");
    const std::filesystem::path file = std::filesystem::path(CORRAL_FIXTURES_DIR) / "reports/example/report.json";
    CHECK_THAT(render_output("text", doc, file), Catch::Contains("passed, 2 not passed"));
    CHECK(json::parse(render_output("json", doc, file)) == doc);
    CHECK_THAT(render_output("markdown", doc, file), Catch::Contains("| oom |"));
    CHECK_THAT(render_output("html", doc, file), Catch::StartsWith("<!DOCTYPE html>"));
    CHECK_THAT(render_output("junit", doc, file), Catch::Contains("<testsuites"));
    CHECK(error_of([&] { find_output("pdf"); }) == "no output 'pdf' (there are: text, json, markdown, html, junit)");
}
