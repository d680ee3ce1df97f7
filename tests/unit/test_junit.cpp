// junit.xml from the report document: the text filters (ANSI, XML 1.0 characters, UTF-8), output
// tails, the testsuite/testcase structure, and the size bound that keeps the file under GitLab's 30 MB.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/report/junit.hpp"
#include "corral/report/output_tail.hpp"
#include "corral/report/report.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

struct JunitDir {
    std::string path;
    JunitDir() {
        char tmpl[] = "/tmp/corral-test-junit-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~JunitDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text) const { write_file_atomic(path + "/" + name, text); }
};

SuiteResult suite(const std::string& name, Verdict v, const std::string& profile) {
    SuiteResult s;
    s.name = name;
    s.verdict = v;
    s.explanation = "explained: " + name;
    s.profile = profile;
    s.duration_s = 1.5;
    s.backend = "cgroup-v2";
    s.limits.memory_max = 64 << 20;
    s.peak_bytes = 1 << 20;
    s.exit_code = v == Verdict::Passed ? 0 : 1;
    s.stdout_file = name + ".stdout";
    s.stderr_file = name + ".stderr";
    return s;
}

json report_doc(std::vector<SuiteResult> suites, std::vector<SplitBatch> not_run = {}) {
    RunReport r;
    r.backend = "cgroup-v2";
    r.started_at = "2026-11-29T17:28:39Z";
    r.host = "ci-runner-7";
    r.corral_version = "0.1.0";
    r.duration_s = 4.25;
    r.suites = std::move(suites);
    r.not_run = std::move(not_run);
    return report_to_json(r);
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("strip_ansi removes colour, cursor, title and hyperlink sequences and keeps the text", "[junit]") {
    CHECK(strip_ansi("\x1b[1;31mFAILED\x1b[0m test_x") == "FAILED test_x");
    CHECK(strip_ansi("a\x1b[2K\x1b[1Gb") == "ab");
    CHECK(strip_ansi("\x1b]0;title\x07text") == "text");
    CHECK(strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link");
    CHECK(strip_ansi("\x1b(Bplain\x1b=") == "plain");
    CHECK(strip_ansi("end\x1b") == "end");
    CHECK(strip_ansi("\x1b]unterminated") == "");
    CHECK(strip_ansi("caf\xC3\xA9 \xE2\x9C\x93") == "caf\xC3\xA9 \xE2\x9C\x93");
}

TEST_CASE("xml_escape removes characters XML 1.0 does not allow and replaces bytes that are no UTF-8", "[junit]") {
    CHECK(xml_escape("a<b>&c\"d") == "a&lt;b&gt;&amp;c\"d");
    CHECK(xml_escape("a\"b\tc\nd", true) == "a&quot;b&#9;c&#10;d");
    CHECK(xml_escape(std::string("x\0y\x01\x08\x0B\x0C\x1F" "z", 9)) == "xyz");
    CHECK(xml_escape("tab\tlf\n") == "tab\tlf\n");
    CHECK(xml_escape("cr\r") == "cr&#13;");
    CHECK(xml_escape("\xEF\xBF\xBE\xEF\xBF\xBF|") == "|");                  // U+FFFE, U+FFFF
    CHECK(xml_escape("\xFF\xC3(") == "\xEF\xBF\xBD\xEF\xBF\xBD(");          // no UTF-8: U+FFFD each
    CHECK(xml_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
    CHECK(xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");            // overlong '/'
    CHECK(xml_escape("\xF0\x9F\x98\x80 \xC3\xA9") == "\xF0\x9F\x98\x80 \xC3\xA9");
}

TEST_CASE("xml_escape_capped cuts between characters and entities, never inside one", "[junit]") {
    // "&&&&" escapes to 20 bytes; 12 bytes of its end are cut to whole entities: 2 of them.
    CHECK(xml_escape_capped("&&&&", 12, false, true) == "&amp;&amp;");
    CHECK(xml_escape_capped("ab&&", 11, false, false) == "ab&amp;\xE2\x80\xA6");
    CHECK(xml_escape_capped("\xC3\xA9\xC3\xA9\xC3\xA9", 3, false, true) == "\xC3\xA9");
    CHECK(xml_escape_capped("short", 100) == "short");
}

TEST_CASE("read_output_tail keeps the last bytes from a character boundary and counts what it left out", "[junit]") {
    JunitDir d;
    d.write("s.stdout", "\xC3\xA9" + std::string(10, 'x'));
    OutputTail t = read_output_tail(d.path + "/s.stdout", 11);  // the cut falls inside the é
    CHECK(t.text == std::string(10, 'x'));
    CHECK(t.skipped == 2);
    OutputTail all = read_output_tail(d.path + "/s.stdout", 100);
    CHECK(all.skipped == 0);
    CHECK(all.text.size() == 12);
    CHECK_THROWS_WITH(read_output_tail(d.path + "/missing", 10), Contains("missing") && Contains("No such file"));
}

TEST_CASE("junit: a testsuite per profile file, a testcase per suite, failure, error and skipped, properties", "[junit]") {
    JunitDir d;
    std::vector<SuiteResult> suites{suite("unit", Verdict::Passed, "ci/unit.yaml"), suite("oom", Verdict::OomKilled, "ci/unit.yaml"),
                                    suite("e2e", Verdict::LaunchError, "ci/e2e.yaml")};
    suites[1].exit_code.reset();
    suites[1].limits.memory_max = kInfinity;
    suites[1].notes.push_back("a note <with> markup");
    suites[2].stdout_file.clear();  // never started: no output files
    suites[2].stderr_file.clear();
    SuiteResult batch = suite("b.1", Verdict::Failed, "ci/e2e.yaml");
    batch.split = SplitBatch{"b", 1, 3, {"t1"}, true};
    suites.push_back(batch);
    d.write("unit.stdout", "\x1b[32mok\x1b[0m test_a\n");
    d.write("unit.stderr", std::string("warn\x01ing\n"));
    d.write("oom.stdout", "allocated 8 MiB\n");
    d.write("oom.stderr", "");
    d.write("b.1.stdout", "x");
    d.write("b.1.stderr", "y");
    const std::string x = render_junit(report_doc(suites, {SplitBatch{"b", 2, 3, {"t2"}, true}, SplitBatch{"b", 3, 3, {"t3"}, true}}), d.path);
    INFO(x);
    CHECK(count(x, "<testsuite ") == 2);
    CHECK_THAT(x, Contains("<testsuite name=\"ci/unit.yaml\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"3.000\" "
                           "timestamp=\"2026-11-29T17:28:39\" hostname=\"ci-runner-7\">"));
    CHECK_THAT(x, Contains("<testsuite name=\"ci/e2e.yaml\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"2\""));
    CHECK_THAT(x, Contains("<testsuites name=\"corral\" tests=\"6\" failures=\"2\" errors=\"1\" skipped=\"2\" time=\"4.250\">"));
    CHECK_THAT(x, Contains("<testcase name=\"unit\" classname=\"unit\" time=\"1.500\">"));
    CHECK_THAT(x, Contains("<testcase name=\"e2e\" classname=\"e2e\" time=\"1.500\">"));
    CHECK_THAT(x, Contains("<failure message=\"explained: oom\" type=\"oom-killed\">explained: oom\nnote: a note &lt;with&gt; markup</failure>"));
    CHECK_THAT(x, Contains("<error message=\"explained: e2e\" type=\"launch-error\">"));
    CHECK_THAT(x, Contains("<failure message=\"explained: b.1\" type=\"failed\">"));
    CHECK_THAT(x, Contains("<testcase name=\"b.2\" classname=\"e2e\" time=\"0.000\">\n      <skipped message="));
    CHECK_THAT(x, Contains("<testcase name=\"b.3\" classname=\"e2e\""));
    CHECK_THAT(x, Contains("<property name=\"corral.verdict\" value=\"oom-killed\"/>"));
    CHECK_THAT(x, Contains("<property name=\"corral.peak_bytes\" value=\"1048576\"/>"));
    CHECK_THAT(x, Contains("<property name=\"corral.memory_max_bytes\" value=\"infinity\"/>"));
    CHECK_THAT(x, Contains("<property name=\"corral.memory_max_bytes\" value=\"67108864\"/>"));
    CHECK_THAT(x, Contains("<property name=\"corral.oom_kills\" value=\"0\"/>"));
    CHECK_THAT(x, Contains("<property name=\"corral.exit_code\" value=\"\"/>"));  // null: killed by a signal
    CHECK_THAT(x, Contains("<property name=\"corral.exit_code\" value=\"0\"/>"));
    CHECK_THAT(x, Contains("<property name=\"corral.backend\" value=\"cgroup-v2\"/>"));
    CHECK_THAT(x, Contains("<system-out>ok test_a\n</system-out>"));     // ANSI stripped
    CHECK_THAT(x, Contains("<system-err>warning\n</system-err>"));       // \x01 removed
    CHECK(count(x, "<system-out>") == 3);  // e2e has no output files
    CHECK(count(x, "<properties>") == 4);
}

TEST_CASE("junit: the ad-hoc suite's testsuite, the tail of a long stream and a stream file that cannot be read", "[junit]") {
    JunitDir d;
    SuiteResult s = suite("adhoc", Verdict::Timeout, "");
    d.write("adhoc.stdout", std::string(100 * 1024, 'a') + "\nthe end\n");
    const std::string x = render_junit(report_doc({s}), d.path);  // no adhoc.stderr
    INFO(x.substr(0, 2000));
    CHECK_THAT(x, Contains("<testsuite name=\"command line\""));
    CHECK_THAT(x, Contains("<testcase name=\"adhoc\" classname=\"command-line\""));
    CHECK_THAT(x, Contains("<system-out>[corral: the start of this stream is left out here, adhoc.stdout has all of it]\naaaa"));
    CHECK_THAT(x, Contains("the end\n</system-out>"));
    const auto out_start = x.find("<system-out>"), out_end = x.find("</system-out>");
    CHECK(out_end - out_start < kJunitTailBytes + 200);
    CHECK_THAT(x, Contains("<system-err>[corral: open " + d.path + "/adhoc.stderr: No such file or directory]</system-err>"));
}

TEST_CASE("junit: a report without a field it needs is an error naming the field", "[junit]") {
    JunitDir d;
    json doc = report_doc({suite("unit", Verdict::Passed, "p.yaml")});
    doc.erase("host");
    CHECK_THROWS_WITH(render_junit(doc, d.path), Contains("'host'"));
    doc = report_doc({suite("unit", Verdict::Passed, "p.yaml")});
    doc["suites"][0].erase("profile");
    CHECK_THROWS_WITH(render_junit(doc, d.path), Contains("'profile'") && Contains("suite 'unit'"));
    doc = report_doc({suite("unit", Verdict::Passed, "p.yaml")});
    doc["started_at"] = "yesterday";
    CHECK_THROWS_WITH(render_junit(doc, d.path), Contains("yesterday"));
}

TEST_CASE("junit: with many suites the tails shrink so that the file stays under GitLab's 30 MB, and it says so", "[junit]") {
    CHECK_FALSE(junit_caps(100, 3).shrunk);
    CHECK(junit_caps(100, 3).tail == kJunitTailBytes);
    const JunitCaps many = junit_caps(400, 1);
    CHECK(many.shrunk);
    CHECK(kJunitFileFixedBytes + 400 * (kJunitCaseFixedBytes + 2 * many.tail) + kJunitSuiteFixedBytes <= kJunitMaxFileBytes);
    CHECK_THROWS_WITH(junit_caps(3000, 1), Contains("30 MB"));

    // 400 suites whose streams are 256 KiB of '&' each (5 bytes escaped): every one names the same file.
    JunitDir d;
    d.write("big.out", std::string(256 * 1024, '&'));
    std::vector<SuiteResult> suites;
    for (int i = 0; i < 400; ++i) {
        SuiteResult s = suite("s" + std::to_string(i), Verdict::Failed, "p.yaml");
        s.explanation = std::string(10000, '"');  // escaped 6 times as long: capped
        s.stdout_file = s.stderr_file = "big.out";
        suites.push_back(std::move(s));
    }
    const std::string x = render_junit(report_doc(suites), d.path);
    CHECK(x.size() < 30'000'000);
    CHECK(x.size() > 20'000'000);  // the tails took the room there was
    CHECK_THAT(x, Contains("400 testcases: the tails are cut to"));
}
