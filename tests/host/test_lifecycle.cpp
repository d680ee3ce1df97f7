// Host tier: ending process trees — timeouts, left-behind daemons, signals to corral, stale cgroups.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "harness.hpp"

using namespace host;

namespace {

bool any_cmdline_has(const Json& procs, const std::string& a, const std::string& b) {
    return std::any_of(procs.begin(), procs.end(), [&](const Json& p) {
        const std::string c = p.value("cmdline", "");
        return contains(c, a) && contains(c, b);
    });
}

}  // namespace

TEST_CASE("a timeout ends a tree that ignores SIGTERM including its daemon", "[host][timeout]") {
    HostCase hc;
    const std::string marker = hc.marker("hang");
    TempDir reports("hang");
    // Both ways to end a tree: cgroup.kill (Linux 5.14+), and freeze → SIGKILL each → thaw (before 5.14,
    // or a pure v1 machine), which CORRAL_COMPAT=no-cgroup-kill takes on this kernel.
    const bool cgroup_kill = GENERATE(true, false);
    CAPTURE(cgroup_kill);
    std::vector<std::string> argv{"env", cgroup_kill ? "CORRAL_COMPAT=" : "CORRAL_COMPAT=no-cgroup-kill", corral_bin()};
    for (const auto& a : adhoc(reports.path(),
                               {"--name", "hang", "--memory-max", "128M", "--timeout", "2s", "--kill-grace", "1s"},
                               {prog("hang_daemon"), marker}))
        argv.push_back(a);
    auto r = run(argv, within(30s));
    INFO(r.describe());
    CHECK(!r.hung);
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "hang");
    CHECK(str(s, "/verdict") == "timeout");
    CHECK(str(s, "/signal") == "SIGKILL");  // SIGTERM is ignored: only the SIGKILL after the grace ends it
    CHECK(str(s, "/kill_method") == (cgroup_kill ? "cgroup.kill" : "freeze-and-signal"));
    CHECK(num(s, "/kill_signalled") >= 2);  // the main process's tree and the daemon
    CHECK(num(s, "/limits/timeout_s") == 2);
    const double duration = num(s, "/duration_s");
    CHECK(duration >= 2.0);
    CHECK(duration <= 8.0);

    const Json& snap = field(s, "/timeout_snapshot");
    REQUIRE(snap.is_array());
    CHECK(snap.size() >= 3);  // main process, its child, the double-forked daemon
    CHECK(any_cmdline_has(snap, "--daemon", marker));
    for (const auto& p : snap) {
        CHECK(p.value("pid", 0) > 0);
        CHECK(!p.value("comm", std::string()).empty());
    }
    CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("collecting ..."));
    hc.finish();  // includes: no process carries the marker any more
}

TEST_CASE("a daemon left behind by a passing suite is reported and ended", "[host][left-behind]") {
    HostCase hc;
    const std::string marker = hc.marker("leave");
    TempDir reports("leave");
    auto r = run_corral(adhoc(reports.path(), {"--name", "leave", "--memory-max", "128M", "--timeout", "30s"},
                              {prog("leave_daemon"), marker}),
                        within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "leave");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(num(s, "/exit_code") == 0);
    CHECK(num(s, "/left_behind/count") >= 1);
    const Json& procs = field(s, "/left_behind/processes");
    REQUIRE(procs.is_array());
    REQUIRE(!procs.empty());
    CHECK(std::any_of(procs.begin(), procs.end(), [](const Json& p) {
        return p.value("comm", "") == "leave_daemon" && p.value("pid", 0) > 0;
    }));
    CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("done"));
    hc.finish();
}

TEST_CASE("a background process holding the output pipe does not keep corral waiting",
          "[host][left-behind]") {
    HostCase hc;
    const std::string marker = hc.sleep_marker();
    TempDir reports("bg");
    auto r = run_corral(adhoc(reports.path(), {"--name", "bg", "--memory-max", "128M", "--timeout", "60s"},
                              {"sh", "-c", "sleep " + marker + " & echo started"}),
                        within(30s));
    INFO(r.describe());
    CHECK(!r.hung);
    CHECK(r.exit_code == 0);
    CHECK(r.wall_s < 15);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "bg");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(num(s, "/left_behind/count") >= 1);
    CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("started"));
    hc.finish();
}

TEST_CASE("SIGINT to corral ends the suite and still writes the report", "[host][signals]") {
    HostCase hc;
    const std::string marker = hc.sleep_marker();
    TempDir reports("sigint");
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), "--name", "sleepy", "--memory-max",
                  "64M", "--kill-grace", "2s", "--", "sleep", marker},
                 within(30s));
    REQUIRE(wait_for_process(marker, "sleep", 10s));
    corral.signal(SIGINT);
    auto r = corral.wait();
    INFO(r.describe());
    CHECK(!r.hung);
    CHECK(r.term_signal == 0);  // corral handles SIGINT and exits on its own
    CHECK(r.exit_code == 1);    // a suite did not pass (it was interrupted): not 2 or 3
    CHECK(r.wall_s < 15);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "sleepy");
    CHECK(str(s, "/verdict") == "interrupted");
    hc.finish();  // the sleep is gone
}

TEST_CASE("a later run removes the cgroups of a corral that was SIGKILLed", "[host][stale]") {
    HostCase hc;
    const std::string marker = hc.sleep_marker();
    TempDir first_reports("stale1");
    {
        Child corral({corral_bin(), "run", "--report-dir", first_reports.path(), "--name", "doomed",
                      "--memory-max", "64M", "--", "sleep", marker},
                     within(30s));
        REQUIRE(wait_for_process(marker, "sleep", 10s));
        corral.signal(SIGKILL);  // corral only: the suite stays in its cgroup
        auto r = corral.wait();
        CHECK(r.term_signal == SIGKILL);
    }
    const auto stale = leftover_cgroups();
    INFO("cgroups left by the killed corral: " << join(stale));
    INFO("processes with the marker after the kill: " << describe(marker_processes(marker)));
    CHECK(!stale.empty());

    TempDir reports("stale2");
    auto r = run_corral(
        adhoc(reports.path(), {"--name", "after", "--memory-max", "64M", "--timeout", "30s"}, {"true"}),
        within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK_THAT(lower(r.err), Catch::Contains("stale"));
    auto procs = marker_processes(marker);
    INFO("still running: " << describe(procs));
    CHECK(procs.empty());
    hc.finish();
}

TEST_CASE("on_timeout runs with CORRAL_PIDS before the tree is ended", "[host][timeout][hook]") {
    HostCase hc;
    const std::string marker = hc.marker("hook");
    TempDir work("hook");
    const std::string pids_file = work.file("pids.txt");
    const std::string profile = work.file("hook.yaml");
    write_text(profile,
               "name: hook\n"
               "command: [\"" +
                   prog("hang_daemon") + "\", \"" + marker +
                   "\"]\n"
                   "memory:\n"
                   "  max: 128M\n"
                   "timeout: 2s\n"
                   "kill_grace: 1s\n"
                   "on_timeout: [sh, -c, 'echo $CORRAL_PIDS > " +
                   pids_file + "']\n");
    TempDir reports("hook-reports");
    auto r = run_corral({"run", "--report-dir", reports.path(), profile}, within(40s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "hook");
    CHECK(str(s, "/verdict") == "timeout");
    CHECK(num(s, "/on_timeout/exit_code") == 0);

    const std::string text = read_text(pids_file);
    INFO("CORRAL_PIDS as written by the hook: '" << text << "'");
    std::vector<long> pids;
    std::istringstream in(text);
    for (long p; in >> p;) pids.push_back(p);
    CHECK(!pids.empty());
    std::set<long> snapshot;
    for (const auto& p : field(s, "/timeout_snapshot")) snapshot.insert(p.value("pid", 0L));
    for (long p : pids) {
        INFO("pid " << p << " from CORRAL_PIDS");
        CHECK(snapshot.count(p) == 1);
    }
    hc.finish();
}

TEST_CASE("a suite gets fds 0, 1 and 2 only, whatever corral inherited", "[host][spawn]") {
    HostCase hc;
    TempDir reports("fds");
    // corral started with fds 10, 16 and 251 open (not close-on-exec), as a careless caller leaves them.
    std::vector<std::string> argv{prog("with_fds"), "10,16,251", corral_bin()};
    for (const auto& a : adhoc(reports.path(), {"--name", "fds"}, {prog("fds")})) argv.push_back(a);
    auto r = run(argv, within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    const Json& s = suite(report, "fds");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(suite_stdout(s, reports.path()) == "0\n1\n2\n");
    hc.finish();
}
