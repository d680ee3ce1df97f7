#include <catch2/catch.hpp>
#include <csignal>
#include <functional>
#include <string>

#include "corral/report/result.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

SuiteResult exited(int code, double secs = 1.2) {
    SuiteResult r;
    r.name = "unit";
    r.command = "make check";
    r.exit_code = code;
    r.duration_s = secs;
    r.kill_grace = std::chrono::seconds(2);
    return r;
}

SuiteResult killed_by(int sig) {
    SuiteResult r = exited(0);
    r.exit_code.reset();
    r.signal = sig;
    return r;
}

}  // namespace

TEST_CASE("verdict names", "[result]") {
    CHECK(verdict_name(Verdict::Passed) == "passed");
    CHECK(verdict_name(Verdict::Failed) == "failed");
    CHECK(verdict_name(Verdict::Signaled) == "signaled");
    CHECK(verdict_name(Verdict::OomKilled) == "oom-killed");
    CHECK(verdict_name(Verdict::Timeout) == "timeout");
    CHECK(verdict_name(Verdict::LaunchError) == "launch-error");
    CHECK(verdict_name(Verdict::Interrupted) == "interrupted");
}

TEST_CASE("signal names", "[result]") {
    CHECK(signal_name(SIGKILL) == "SIGKILL");
    CHECK(signal_name(SIGTERM) == "SIGTERM");
    CHECK(signal_name(SIGSEGV) == "SIGSEGV");
    CHECK(signal_name(SIGABRT) == "SIGABRT");
    CHECK(signal_name(0) == "signal 0");
    CHECK(signal_name(200) == "signal 200");
}

TEST_CASE("decide_verdict follows the priority order", "[result]") {
    struct Case {
        const char* what;
        std::function<void(SuiteResult&)> set;
        Verdict want;
    };
    const Case cases[] = {
        {"exit 0", [](SuiteResult&) {}, Verdict::Passed},
        {"exit 3", [](SuiteResult& r) { r.exit_code = 3; }, Verdict::Failed},
        {"exit 137 without a signal or OOM kill", [](SuiteResult& r) { r.exit_code = 137; }, Verdict::Failed},
        {"no exit status at all", [](SuiteResult& r) { r.exit_code.reset(); }, Verdict::Failed},
        {"SIGKILL without OOM kill",
         [](SuiteResult& r) {
             r.exit_code.reset();
             r.signal = SIGKILL;
         },
         Verdict::Signaled},
        {"exit 137 and signal set without OOM kill",
         [](SuiteResult& r) {
             r.exit_code = 137;
             r.signal = SIGKILL;
         },
         Verdict::Signaled},
        {"exit 143 with an OOM kill",
         [](SuiteResult& r) {
             r.exit_code = 143;
             r.oom_kills = 1;
         },
         Verdict::OomKilled},
        {"exit 0 with an OOM kill (a child was killed)", [](SuiteResult& r) { r.oom_kills = 2; },
         Verdict::OomKilled},
        {"SIGKILL with an OOM kill",
         [](SuiteResult& r) {
             r.exit_code.reset();
             r.signal = SIGKILL;
             r.oom_kills = 1;
         },
         Verdict::OomKilled},
        {"OOM kill beats timeout",
         [](SuiteResult& r) {
             r.oom_kills = 1;
             r.timed_out = true;
             r.interrupted = true;
         },
         Verdict::OomKilled},
        {"launch error beats everything",
         [](SuiteResult& r) {
             r.launch_error = "exec /nope: No such file or directory";
             r.oom_kills = 1;
             r.timed_out = true;
             r.exit_code = 127;
         },
         Verdict::LaunchError},
        {"timeout beats interrupted and signal",
         [](SuiteResult& r) {
             r.timed_out = true;
             r.interrupted = true;
             r.exit_code.reset();
             r.signal = SIGTERM;
         },
         Verdict::Timeout},
        {"interrupted beats signal",
         [](SuiteResult& r) {
             r.interrupted = true;
             r.exit_code.reset();
             r.signal = SIGTERM;
         },
         Verdict::Interrupted},
        {"interrupted beats a non-zero exit",
         [](SuiteResult& r) {
             r.interrupted = true;
             r.exit_code = 143;
         },
         Verdict::Interrupted},
        {"signal beats a non-zero exit", [](SuiteResult& r) { r.signal = SIGSEGV; }, Verdict::Signaled},
    };
    for (const auto& c : cases) {
        SuiteResult r = exited(0);
        c.set(r);
        INFO(c.what);
        CHECK(verdict_name(decide_verdict(r)) == verdict_name(c.want));
    }
}

TEST_CASE("finalize sets verdict and explanation", "[result]") {
    SuiteResult r = exited(3);
    finalize(r);
    CHECK(r.verdict == Verdict::Failed);
    CHECK(r.explanation == explain(r));
    CHECK_FALSE(r.explanation.empty());
}

TEST_CASE("explanation: OOM kill under its own memory.max", "[result]") {
    SuiteResult r = exited(137);
    r.limits.memory_max = 256 * MiB;
    r.peak_bytes = 256 * MiB;
    r.oom_kills = 1;
    r.last_line = "test_087 PASSED";
    CHECK(explain(r) ==
          "OOM-killed by its memory.max of 256 MiB at 256 MiB while the suite printed 'test_087 PASSED'.");

    SECTION("no last line: no 'while' clause") {
        r.last_line.clear();
        CHECK(explain(r) == "OOM-killed by its memory.max of 256 MiB at 256 MiB.");
    }
    SECTION("memory.oom_group is named only when it ended the tree") {
        r.last_line.clear();
        r.limits.oom_group = true;
        CHECK(explain(r) == "OOM-killed by its memory.max of 256 MiB at 256 MiB.");
        r.oom_group_killed = true;
        CHECK(explain(r) == "OOM-killed by its memory.max of 256 MiB at 256 MiB; memory.oom_group ended the whole suite.");
    }
    SECTION("several kills are counted") {
        r.oom_kills = 3;
        CHECK_THAT(explain(r), StartsWith("OOM-killed (3 kills) by its memory.max of 256 MiB"));
    }
}

TEST_CASE("explanation: OOM kill without a memory.max of its own", "[result]") {
    SuiteResult r = exited(143);
    r.oom_kills = 2;
    r.last_line = "running test_012";
    SECTION("unset") {}
    SECTION("infinity") { r.limits.memory_max = kInfinity; }
    std::string e = explain(r);
    CHECK_THAT(e, StartsWith("OOM-killed (2 kills) although it had no memory.max of its own: an ancestor "
                             "cgroup's limit or the host ran out"));
    CHECK_THAT(e, Contains("while the suite printed 'running test_012'"));
    CHECK_THAT(e, EndsWith("."));
}

TEST_CASE("explanation: timeout", "[result]") {
    SuiteResult r = exited(0, 7.0);
    r.exit_code.reset();
    r.signal = SIGTERM;
    r.timeout = std::chrono::seconds(5);
    r.timed_out = true;
    r.term_signalled = 3;
    r.kill_signalled = 1;
    r.last_line = "waiting for the server";
    CHECK(explain(r) ==
          "Timed out after 5s (its timeout): SIGTERM to 3 processes, 1 still alive after the 2s grace and "
          "SIGKILLed; it last printed 'waiting for the server'.");

    SECTION("everything ended within the grace") {
        r.kill_signalled = 0;
        CHECK_THAT(explain(r), Contains("SIGTERM to 3 processes, all gone within the 2s grace"));
    }
    SECTION("a failing on_timeout hook is mentioned") {
        HookResult h;
        h.argv = {"gdb", "-p"};
        h.error = "exec gdb: No such file or directory";
        r.on_timeout = h;
        CHECK_THAT(explain(r),
                   Contains("on_timeout hook could not start: exec gdb: No such file or directory"));
    }
}

TEST_CASE("explanation: a stall says so, where it was and what its tree was doing", "[result]") {
    SuiteResult r = exited(0, 2.3);
    r.exit_code.reset();
    r.signal = SIGTERM;
    r.timeout = std::chrono::seconds(300);
    r.stall_timeout = std::chrono::seconds(2);
    r.timed_out = true;
    r.stalled = true;
    r.term_signalled = 2;
    r.last_line = "collecting ...";
    ProcInfo sh, sl;
    sh.pid = 100;
    sh.comm = "sh";
    sh.state = 'S';
    sh.wchan = "do_wait";
    sl.pid = 101;
    sl.comm = "sleep";
    sl.state = 'S';
    sl.wchan = "hrtimer_nanosleep";
    r.timeout_snapshot = {sh, sl};
    finalize(r);
    CHECK(r.verdict == Verdict::Timeout);
    CHECK(r.explanation ==
          "stalled: no output and no CPU time for 2s (its stall_timeout, 2.3s into its timeout of 5m); it last "
          "printed 'collecting ...'; its tree: 100 sh S (sleeping) in do_wait, 101 sleep S (sleeping) in "
          "hrtimer_nanosleep; SIGTERM to 2 processes, all gone within the 2s grace.");
    SECTION("nothing printed, a process in D without a wchan, many processes") {
        r.last_line.clear();
        r.timeout.reset();
        ProcInfo d = sl;
        d.state = 'D';
        d.wchan = "0";
        r.timeout_snapshot = {d, sh, sh, sh, sh, sh, sh};
        CHECK_THAT(explain(r), StartsWith("stalled: no output and no CPU time for 2s (its stall_timeout); it had "
                                          "printed nothing; its tree: 101 sleep D (uninterruptible, waiting on I/O "
                                          "or the kernel), 100 sh S (sleeping) in do_wait, "));
        CHECK_THAT(explain(r), Contains(" and 2 more; SIGTERM"));
    }
}

TEST_CASE("explanation: failed, signaled, passed, launch error, interrupted", "[result]") {
    SECTION("failed") {
        SuiteResult r = exited(3, 1.2);
        r.last_line = "FAILED test_x";
        CHECK(explain(r) == "Exited with status 3 after 1.2s; it last printed 'FAILED test_x'.");
    }
    SECTION("failed with memory limit hits") {
        SuiteResult r = exited(1);
        r.limits.memory_max = 64 * MiB;
        r.memory_failcnt = 4;
        CHECK_THAT(explain(r),
                   Contains("memory reached its memory.max of 64 MiB 4 times without an OOM kill"));
    }
    SECTION("signaled") {
        SuiteResult r = killed_by(SIGSEGV);
        r.last_line = "test_parse";
        std::string e = explain(r);
        CHECK_THAT(e, StartsWith("Killed by SIGSEGV, not by an OOM kill or corral's timeout, after 1.2s"));
        CHECK_THAT(e, Contains("it last printed 'test_parse'"));
    }
    SECTION("passed with a memory.max") {
        SuiteResult r = exited(0, 1.2);
        r.limits.memory_max = 256 * MiB;
        r.peak_bytes = 12 * MiB;
        CHECK(explain(r) == "Exited 0 after 1.2s; peak 12 MiB (5% of its memory.max of 256 MiB).");
    }
    SECTION("passed without a memory.max") {
        SuiteResult r = exited(0, 1.2);
        r.peak_bytes = 12 * MiB;
        CHECK(explain(r) == "Exited 0 after 1.2s; peak 12 MiB (no memory.max).");
    }
    SECTION("passed, peak unknown") {
        SuiteResult r = exited(0, 0.25);
        CHECK(explain(r) == "Exited 0 after 250ms.");
    }
    SECTION("launch error") {
        SuiteResult r = exited(0);
        r.launch_error = "exec ./run-tests: No such file or directory";
        CHECK(explain(r) == "Could not start: exec ./run-tests: No such file or directory.");
    }
    SECTION("interrupted") {
        SuiteResult r = killed_by(SIGTERM);
        r.interrupted = true;
        r.term_signalled = 2;
        r.last_line = "test_42";
        std::string e = explain(r);
        CHECK_THAT(e, StartsWith("Interrupted: corral received a signal and ended the suite's tree"));
        CHECK_THAT(e, Contains("SIGTERM to 2 processes"));
        CHECK_THAT(e, Contains("'test_42'"));
    }
}

TEST_CASE("explanation: tasks limit, left-behind processes, unboxed", "[result]") {
    SuiteResult r = exited(1);
    r.limits.tasks_max = 64;
    r.tasks_limit_hits = 12;
    r.left_behind_count = 2;
    ProcInfo p;
    p.pid = 1234;
    p.comm = "sleep";
    r.left_behind = {p};
    r.boxed = false;
    std::string e = explain(r);
    CHECK_THAT(e, Contains("fork was refused 12 times by its tasks_max of 64"));
    CHECK_THAT(e, Contains("left 2 processes running (first: 1234 sleep), ended by corral"));
    CHECK_THAT(e, Contains("no limits were enforced (--allow-unboxed)"));
    CHECK_THAT(e, EndsWith("."));

    SECTION("none of them when they do not apply") {
        std::string plain = explain(exited(1));
        CHECK_THAT(plain, !Contains("fork"));
        CHECK_THAT(plain, !Contains("left"));
        CHECK_THAT(plain, !Contains("allow-unboxed"));
    }
}

TEST_CASE("quoted lines are cut at 120 characters", "[result]") {
    CHECK(quote_line("short") == "'short'");
    std::string exact(120, 'x');
    CHECK(quote_line(exact) == "'" + exact + "'");
    std::string longer(300, 'y');
    CHECK(quote_line(longer) == "'" + std::string(120, 'y') + "…'");

    SECTION("multi-byte characters are never split") {
        std::string s;
        for (int i = 0; i < 130; ++i) s += "é";
        std::string q = quote_line(s);
        std::string want = "'";
        for (int i = 0; i < 120; ++i) want += "é";
        CHECK(q == want + "…'");
    }
    SECTION("in explanations") {
        SuiteResult r = exited(2);
        r.last_line = std::string(200, 'z');
        CHECK_THAT(explain(r), Contains("'" + std::string(120, 'z') + "…'."));
    }
}

TEST_CASE("seconds and percentages for people", "[result]") {
    CHECK(format_seconds(0.25) == "250ms");
    CHECK(format_seconds(2.314) == "2.31s");
    CHECK(format_seconds(12.34) == "12.3s");
    CHECK(format_seconds(1.2) == "1.2s");
    CHECK(format_seconds(5.0) == "5s");
    CHECK(format_seconds(0.9999) == "1s");
    CHECK(format_seconds(9.999) == "10s");
    CHECK(format_seconds(-1) == "0ms");
    CHECK(percent_of(12 * MiB, 256 * MiB) == "5%");
    CHECK(percent_of(256 * MiB, 256 * MiB) == "100%");
    CHECK(percent_of(1, 256 * MiB) == "<1%");
    CHECK(percent_of(0, 256 * MiB) == "0%");
    CHECK(percent_of(1, 0) == "n/a");
}
