#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "corral/base/fd.hpp"
#include "corral/report/report.hpp"
#include "corral/report/summary.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

SuiteResult oom_suite() {
    SuiteResult s;
    s.name = "oom";
    s.command = "./alloc 300M";
    s.cgroup = "/sys/fs/cgroup/memory/corral/run-1/oom";
    s.limits.memory_max = 256 * MiB;
    s.limits.swap_max = kInfinity;
    s.limits.tasks_max = 64;
    s.timeout = std::chrono::seconds(30);
    s.kill_grace = std::chrono::milliseconds(2500);
    s.exit_code = 137;
    s.duration_s = 2.31;
    s.peak_bytes = 256 * MiB;
    s.peak_source = "memory.max_usage_in_bytes";
    s.samples.append(0.1, 10 * MiB, "");
    s.samples.append(0.2, 200 * MiB, "test_087 PASSED");
    s.pressure.append({0.1, 1.5, 0.25, 1200, 300});
    s.oom_kills = 1;
    s.memory_failcnt = 7;
    s.cpu_usage_us = 123456;
    s.last_line = "test_087 PASSED";
    s.stdout_file = "oom.stdout";
    s.stderr_file = "oom.stderr";
    s.notes = {"memory.high is not enforced on cgroup v1"};
    finalize(s);
    return s;
}

SuiteResult timeout_suite() {
    SuiteResult s;
    s.name = "slow-integration";
    s.command = "sleep 100";
    s.timeout = std::chrono::seconds(5);
    s.kill_grace = std::chrono::seconds(2);
    s.signal = SIGKILL;
    s.duration_s = 7.01;
    s.timed_out = true;
    s.term_signalled = 3;
    s.kill_signalled = 1;
    ProcInfo p;
    p.pid = 4242;
    p.ppid = 1;
    p.state = 'S';
    p.wchan = "hrtimer_nanosleep";
    p.rss_bytes = 4096;
    p.comm = "sleep";
    p.cmdline = "sleep 100";
    s.timeout_snapshot = {p};
    s.left_behind_count = 1;
    s.left_behind = {p};
    HookResult h;
    h.argv = {"echo", "dump"};
    h.exit_code = 0;
    h.duration_s = 0.01;
    s.on_timeout = h;
    finalize(s);
    return s;
}

RunReport sample_report() {
    RunReport r;
    r.backend = "cgroup-v1";
    r.started_at = "2024-05-01T12:00:00Z";
    r.duration_s = 9.5;
    r.corral_version = "0.1.0";
    r.notes = {"removed 1 stale cgroup"};
    SuiteResult ok;
    ok.name = "unit";
    ok.command = "make check";
    ok.exit_code = 0;
    ok.duration_s = 1.2;
    finalize(ok);
    r.suites = {oom_suite(), timeout_suite(), ok};
    return r;
}

// A temp directory removed when the test ends.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/corral-test-report-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("report.json carries every field with its type", "[report]") {
    json j = report_to_json(sample_report());
    CHECK(j.at("schema") == "corral-report/1");
    CHECK(j.at("backend") == "cgroup-v1");
    CHECK(j.at("started_at") == "2024-05-01T12:00:00Z");
    CHECK(j.at("duration_s").is_number());
    CHECK(j.at("corral_version") == "0.1.0");
    CHECK(j.at("notes") == json::array({"removed 1 stale cgroup"}));
    REQUIRE(j.at("suites").size() == 3);

    const json& s = j.at("suites")[0];
    const char* required[] = {"name",           "verdict",      "exit_code",   "signal",
                              "duration_s",     "command",      "cgroup",      "boxed",
                              "limits",         "kill_grace_s", "memory",      "oom",
                              "tasks",          "cpu",          "left_behind", "timeout_snapshot",
                              "on_timeout",     "timed_out",    "interrupted", "term_signalled",
                              "kill_signalled", "launch_error", "last_line",   "stdout",
                              "stderr",         "notes",        "explanation"};
    for (const char* key : required) {
        INFO(key);
        CHECK(s.contains(key));
    }
    CHECK(s.at("name") == "oom");
    CHECK(s.at("verdict") == "oom-killed");
    CHECK(s.at("exit_code") == 137);
    CHECK(s.at("signal").is_null());
    CHECK(s.at("duration_s").get<double>() == Approx(2.31));
    CHECK(s.at("command") == "./alloc 300M");
    CHECK(s.at("cgroup") == "/sys/fs/cgroup/memory/corral/run-1/oom");
    CHECK(s.at("boxed") == true);
    CHECK(s.at("kill_grace_s").get<double>() == Approx(2.5));
    CHECK(s.at("timed_out") == false);
    CHECK(s.at("interrupted") == false);
    CHECK(s.at("term_signalled") == 0);
    CHECK(s.at("kill_signalled") == 0);
    CHECK(s.at("launch_error").is_null());
    CHECK(s.at("last_line") == "test_087 PASSED");
    CHECK(s.at("stdout") == "oom.stdout");
    CHECK(s.at("stderr") == "oom.stderr");
    CHECK(s.at("notes") == json::array({"memory.high is not enforced on cgroup v1"}));
    CHECK(s.at("explanation") ==
          "OOM-killed by its memory.max of 256 MiB at 256 MiB while the suite printed 'test_087 PASSED'.");
    CHECK(s.at("timeout_snapshot") == json::array());
    CHECK(s.at("on_timeout").is_null());

    SECTION("limits: numbers, null when unset, \"infinity\"") {
        const json& l = s.at("limits");
        CHECK(l.at("memory_max_bytes") == 256 * MiB);
        CHECK(l.at("memory_high_bytes").is_null());
        CHECK(l.at("swap_max_bytes") == "infinity");
        CHECK(l.at("tasks_max") == 64);
        CHECK(l.at("cpu_quota_percent").is_null());
        CHECK(l.at("timeout_s").get<double>() == Approx(30));
        CHECK(l.at("kill_grace_s").get<double>() == Approx(2.5));
    }
    SECTION("memory, oom, tasks, cpu") {
        const json& m = s.at("memory");
        CHECK(m.at("peak_bytes") == 256 * MiB);
        CHECK(m.at("peak_source") == "memory.max_usage_in_bytes");
        CHECK(m.at("failcnt") == 7);
        const json& samples = m.at("samples");
        REQUIRE(samples.size() == 2);
        for (const auto& row : samples) {
            REQUIRE(row.is_array());
            REQUIRE(row.size() == 3);
            CHECK(row[0].is_number());
            CHECK(row[1].is_number_unsigned());
            CHECK(row[2].is_string());
        }
        CHECK(samples[1][1] == 200 * MiB);
        CHECK(samples[1][2] == "test_087 PASSED");
        // Nothing older than the recent window yet: no buckets, nothing kept around OOM kills.
        CHECK(m.at("sample_count") == 2);
        CHECK(m.at("history") == json::array());
        CHECK(m.at("history_bucket_s").get<double>() == Approx(1));
        CHECK(m.at("oom_samples") == json::array());
        CHECK(m.at("pressure").at("history") == json::array());
        const json& psi = m.at("pressure").at("samples");
        REQUIRE(psi.size() == 1);
        REQUIRE(psi[0].size() == 5);
        CHECK(psi[0][1].get<double>() == Approx(1.5));
        CHECK(psi[0][3] == 1200);
        CHECK(psi[0][4] == 300);

        CHECK(s.at("oom").at("kills") == 1);
        CHECK(s.at("oom").at("records") == json::array());
        CHECK(s.at("tasks").at("limit_hits") == 0);
        CHECK(s.at("cpu").at("usage_us") == 123456);
        CHECK(s.at("cpu").at("throttled_us").is_null());
        CHECK(s.at("cpu").at("nr_throttled").is_null());
        CHECK(s.at("left_behind").at("count") == 0);
        CHECK(s.at("left_behind").at("processes") == json::array());
    }
}

TEST_CASE("report.json: timeout suite with snapshot and hook", "[report]") {
    json s = suite_to_json(timeout_suite());
    CHECK(s.at("verdict") == "timeout");
    CHECK(s.at("exit_code").is_null());
    CHECK(s.at("signal") == "SIGKILL");
    CHECK(s.at("timed_out") == true);
    CHECK(s.at("term_signalled") == 3);
    CHECK(s.at("kill_signalled") == 1);
    CHECK(s.at("cgroup").is_null());
    CHECK(s.at("limits").at("memory_max_bytes").is_null());
    CHECK(s.at("memory").at("peak_bytes").is_null());
    CHECK(s.at("memory").at("samples") == json::array());

    const json& snap = s.at("timeout_snapshot");
    REQUIRE(snap.size() == 1);
    CHECK(snap[0].at("pid") == 4242);
    CHECK(snap[0].at("ppid") == 1);
    CHECK(snap[0].at("state") == "S");
    CHECK(snap[0].at("wchan") == "hrtimer_nanosleep");
    CHECK(snap[0].at("rss_bytes") == 4096);
    CHECK(snap[0].at("comm") == "sleep");
    CHECK(snap[0].at("cmdline") == "sleep 100");

    CHECK(s.at("left_behind").at("count") == 1);
    CHECK(s.at("left_behind").at("processes")[0].at("pid") == 4242);
    CHECK(s.at("left_behind").at("processes")[0].at("comm") == "sleep");

    const json& h = s.at("on_timeout");
    REQUIRE(h.is_object());
    CHECK(h.at("argv") == json::array({"echo", "dump"}));
    CHECK(h.at("exit_code") == 0);
    CHECK(h.at("signal").is_null());
    CHECK(h.at("timed_out") == false);
    CHECK(h.at("duration_s").is_number());
    CHECK(h.at("error").is_null());
}

TEST_CASE("report.json: history buckets, samples around an OOM kill, the peak's line", "[report][samples]") {
    SeriesBounds b;
    b.window_s = 1;  // samples older than 1 s go to 1 s buckets
    SuiteResult r = oom_suite();
    r.samples = MemorySeries(b);
    r.pressure = PressureSeries(b);
    for (int i = 0; i <= 40; ++i) {  // 4 s at 100 ms: 10 MiB, 11 MiB, … a peak of 200 MiB at t=1.5
        const double t = i / 10.0;
        const std::uint64_t bytes = i == 15 ? 200 * MiB : (10 + static_cast<std::uint64_t>(i)) * MiB;
        const std::string line = "line " + std::to_string(i) + " " + std::string(300, 'x');
        if (r.samples.append(t, bytes, line))
            r.peak_sample = PeakSample{t, bytes, 150 * MiB, 50 * MiB, r.samples.peak()->last_line};
        r.pressure.append(
            {t, 1.0 * i, 0.5 * i, 1000u * static_cast<unsigned>(i), 500u * static_cast<unsigned>(i)});
        if (i == 20) r.samples.mark_oom(t);
    }
    finalize(r);
    const json m = suite_to_json(r).at("memory");

    CHECK(m.at("sample_count") == 41);
    const json& samples = m.at("samples");  // t 3.0 … 4.0
    REQUIRE(samples.size() == 11);
    CHECK(samples[0][0].get<double>() == Approx(3.0));
    CHECK(samples[0][2].get<std::string>().size() == kSampleLineMaxBytes);
    CHECK(m.at("history_bucket_s").get<double>() == Approx(1));
    const json& history = m.at("history");  // [t_start_s, t_end_s, min_bytes, max_bytes, last_bytes]
    REQUIRE(history.size() == 3);
    CHECK(history[1][0].get<double>() == Approx(1.0));
    CHECK(history[1][1].get<double>() == Approx(1.9));
    CHECK(history[1][2] == 20 * MiB);  // t 1.0 … 1.9: 20 MiB … 29 MiB, and the peak
    CHECK(history[1][3] == 200 * MiB);
    CHECK(history[1][4] == 29 * MiB);
    const json& oom = m.at("oom_samples");  // t 1.9, 2.0 and 2.1, gone from samples but kept
    REQUIRE(oom.size() == 3);
    CHECK(oom[0][0].get<double>() == Approx(1.9));
    CHECK(oom[1][1] == 30 * MiB);
    CHECK(oom[2][2].get<std::string>().rfind("line 21 x", 0) == 0);
    const json& peak = m.at("peak_sample");
    CHECK(peak.at("bytes") == 200 * MiB);
    CHECK(peak.at("t_s").get<double>() == Approx(1.5));
    CHECK(peak.at("last_line").get<std::string>().rfind("line 15 x", 0) == 0);
    CHECK(peak.at("last_line").get<std::string>().size() == kSampleLineMaxBytes);
    // PSI: [t_start_s, t_end_s, max some_avg10, max full_avg10, some_total_us, full_total_us]
    const json& psi = m.at("pressure").at("history");
    REQUIRE(psi.size() == 3);
    CHECK(psi[2][0].get<double>() == Approx(2.0));
    CHECK(psi[2][1].get<double>() == Approx(2.9));
    CHECK(psi[2][2].get<double>() == Approx(29));
    CHECK(psi[2][3].get<double>() == Approx(14.5));
    CHECK(psi[2][4] == 29000);
    CHECK(psi[2][5] == 14500);
    CHECK(m.at("pressure").at("samples").size() == 11);
    CHECK(m.at("pressure").at("summary").at("full_total_s").get<double>() == Approx(0.02));
}

TEST_CASE("report.json: launch error and unboxed", "[report]") {
    SuiteResult s;
    s.name = "broken";
    s.launch_error = "exec ./nope: No such file or directory";
    s.boxed = false;
    finalize(s);
    json j = suite_to_json(s);
    CHECK(j.at("verdict") == "launch-error");
    CHECK(j.at("launch_error") == "exec ./nope: No such file or directory");
    CHECK(j.at("boxed") == false);
    CHECK(j.at("exit_code").is_null());
    CHECK(j.at("stdout").is_null());
}

TEST_CASE("report text survives bytes that are not UTF-8", "[report]") {
    RunReport r = sample_report();
    r.suites[0].last_line = "bad \xff\xfe bytes";
    std::string text = report_json_text(r);
    json back = json::parse(text);
    CHECK(back.at("suites")[0].at("last_line").get<std::string>().find("bad ") == 0);
}

TEST_CASE("write_report writes valid JSON atomically, and the HTML and plots beside it", "[report]") {
    TempDir tmp;
    std::string dir = tmp.path + "/run/1";  // created by write_report
    RunReport r = sample_report();
    write_report(dir, r);
    std::string text = read_file(dir + "/report.json");
    REQUIRE_FALSE(text.empty());
    CHECK(text.back() == '\n');
    json back = json::parse(text);
    CHECK(back == report_to_json(r));

    // Rewriting replaces the file and leaves no temporary behind.
    r.duration_s = 10;
    write_report(dir, r);
    CHECK(json::parse(read_file(dir + "/report.json")).at("duration_s") == 10);
    // Beside it, report.html and one plot per suite, rendered from the same document.
    std::set<std::string> entries;
    for (const auto& e : std::filesystem::directory_iterator(dir)) entries.insert(e.path().filename().string());
    CHECK(entries == std::set<std::string>{"report.json", "report.html", "memory-oom.svg",
                                           "memory-slow-integration.svg", "memory-unit.svg"});
}

TEST_CASE("write_report names the directory when it fails", "[report]") {
    TempDir tmp;
    std::string blocker = tmp.path + "/file";
    write_file_atomic(blocker, "x");
    try {
        write_report(blocker + "/sub", sample_report());
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Contains(blocker + "/sub"));
    }
}

TEST_CASE("the text summary of a run, rendered from its report document", "[report][summary]") {
    RunReport r = sample_report();
    std::string text = render_summary(report_to_json(r), "/tmp/corral-out");
    INFO(text);
    CHECK_THAT(
        text,
        Contains("  oom               oom-killed     2.31s  peak 256 MiB / 256 MiB (100%)  OOM kills 1\n"));
    CHECK_THAT(text,
               Contains("      OOM-killed by its memory.max of 256 MiB at 256 MiB while the suite printed "
                        "'test_087 PASSED'.\n"));
    CHECK_THAT(text, Contains("      note: memory.high is not enforced on cgroup v1\n"));
    CHECK_THAT(text, Contains("  slow-integration  timeout        7.01s  peak n/a\n"));
    CHECK_THAT(text, Contains("  unit              passed          1.2s  peak n/a\n"));
    CHECK_THAT(text, Contains("  note: removed 1 stale cgroup\n"));
    CHECK_THAT(text, Catch::StartsWith("corral: 3 suites in 9.5s (cgroup-v1 backend)\n"));
    CHECK_THAT(text, Contains("1 passed, 2 not passed — report: /tmp/corral-out/report.json\n"));

    SECTION("peak without a memory.max") {
        r.suites[2].peak_bytes = 12 * MiB;
        CHECK_THAT(render_summary(report_to_json(r), "d"), Contains("peak 12 MiB (no memory.max)"));
    }
    SECTION("no suites") {
        RunReport empty;
        empty.backend = "cgroup-v1";
        CHECK(render_summary(report_to_json(empty), "d") ==
              "corral: 0 suites in 0ms (cgroup-v1 backend)\n0 passed, 0 not passed — report: d/report.json\n");
    }
}
