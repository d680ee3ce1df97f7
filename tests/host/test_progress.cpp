// Host tier: stall_timeout ends a hung suite in seconds and says where it hung; the live progress
// lines (--progress lines|none, the periodic line a log gets); the terminal area under tmux.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace host;

TEST_CASE("stall_timeout ends a suite that prints nothing and uses no CPU as a timeout that says where it stalled",
          "[host][progress][stall]") {
    HostCase hc;
    TempDir work("stall");
    TempDir reports("stall-reports");
    const std::string profile = work.file("stall.yaml");
    write_text(profile,
               "name: hung\n"
               "command: \"echo collecting ...; sleep " + hc.sleep_marker() + "\"\n"
               "timeout: 300s\n"
               "stall_timeout: 2s\n"
               "kill_grace: 1s\n");
    auto r = run_corral({"run", "--report-dir", reports.path(), profile}, within(60s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    CHECK(r.wall_s < 30);  // seconds, not its 300 s timeout
    auto report = load_report(reports.path());
    const Json& s = suite(report, "hung");
    INFO(brief(s));
    CHECK(str(s, "/verdict") == "timeout");
    CHECK(field(s, "/stalled") == true);
    CHECK(num(s, "/stall_timeout_s") == 2);
    CHECK(num(s, "/duration_s") >= 2);
    const std::string expl = str(s, "/explanation");
    CHECK_THAT(expl, Catch::StartsWith("stalled: no output and no CPU time for 2s (its stall_timeout"));
    CHECK_THAT(expl, Catch::Contains("it last printed 'collecting ...'"));
    // What the tree was doing: each process of the timeout snapshot with its state (and its wchan
    // where the kernel gives one).
    const Json& snap = field(s, "/timeout_snapshot");
    REQUIRE(snap.size() >= 2);
    for (const auto& p : snap) {
        std::string want = std::to_string(p["pid"].get<int>()) + " " + p["comm"].get<std::string>() + " " +
                           p["state"].get<std::string>();
        CHECK_THAT(expl, Catch::Contains(want));
        const std::string wchan = p["wchan"].is_string() ? p["wchan"].get<std::string>() : "";
        if (!wchan.empty() && wchan != "0") CHECK_THAT(expl, Catch::Contains(" in " + wchan));
    }
    CHECK_THAT(expl, Catch::Contains("sleep S (sleeping)"));
    hc.finish();
}

TEST_CASE("stall_timeout never ends a busy suite that prints nothing", "[host][progress][stall]") {
    HostCase hc;
    TempDir reports("busy");
    auto r = run_corral(adhoc(reports.path(), {"--stall-timeout", "1s", "--timeout", "4s", "--kill-grace", "1s"},
                              {"sh", "-c", "while :; do :; done"}),
                        within(60s));
    INFO(r.describe());
    auto report = load_report(reports.path());
    const Json& s = suite(report, "adhoc");
    INFO(brief(s));
    CHECK(str(s, "/verdict") == "timeout");
    CHECK(field(s, "/stalled") == false);
    CHECK(num(s, "/duration_s") >= 4);
    CHECK_THAT(str(s, "/explanation"), Catch::StartsWith("Timed out after 4s (its timeout)"));
    hc.finish();
}

TEST_CASE("off a terminal a running suite gets a periodic line with its memory and last line, stalled? at half "
          "its stall_timeout",
          "[host][progress]") {
    HostCase hc;
    TempDir reports("periodic");
    auto args = adhoc(reports.path(), {"--stall-timeout", "6s", "--memory-max", "64M", "--timeout", "60s"},
                      {"sh", "-c", "echo collecting ...; sleep 4"});
    args.insert(args.begin(), {"env", "CORRAL_PROGRESS_INTERVAL_S=0.5", corral_bin()});
    auto r = run(args, within(60s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, Catch::Contains("corral: [adhoc] running "));
    CHECK_THAT(r.err, Catch::Contains(" / 1m; memory "));
    CHECK_THAT(r.err, Catch::Contains(" / 64 MiB ("));
    CHECK_THAT(r.err, Catch::Contains("; last line 'collecting ...'"));
    CHECK_THAT(r.err, Catch::Contains("; stalled? no output and no CPU time for "));
    // Nothing redrawn in a log, and auto prints no start or end lines.
    CHECK_FALSE(contains(r.err, "\x1b["));
    CHECK_FALSE(contains(r.err, "[adhoc] started"));
    hc.finish();
}

TEST_CASE("progress lines prints a line at each suite's start and end, none prints none", "[host][progress]") {
    HostCase hc;
    {
        TempDir reports("lines");
        auto r = run_corral(adhoc(reports.path(), {"--progress", "lines", "--memory-max", "64M", "--timeout", "30s"},
                                  {"sh", "-c", "echo hello"}),
                            within(60s));
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.err, Catch::Contains("corral: [adhoc] started (timeout 30s, memory.max 64 MiB)\n"));
        CHECK(std::regex_search(r.err, std::regex(R"(corral: \[adhoc\] passed after \S+, peak .* / 64 MiB)")));
        CHECK_FALSE(contains(r.err, "\x1b["));
    }
    {
        TempDir reports("none");
        auto args = adhoc(reports.path(), {"--progress", "none"}, {"sh", "-c", "echo hello; sleep 1"});
        args.insert(args.begin(), {"env", "CORRAL_PROGRESS_INTERVAL_S=0.2", corral_bin()});
        auto r = run(args, within(60s));
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        CHECK_FALSE(contains(r.err, "[adhoc]"));
        CHECK_THAT(r.err, Catch::Contains("corral: 1 suite in"));  // the summary is still there
    }
    {
        TempDir reports("bar");
        auto r = run_corral(adhoc(reports.path(), {"--progress", "bar"}, {"true"}), within(60s));
        INFO(r.describe());
        CHECK(r.exit_code == 2);  // stderr is a file here
        CHECK_THAT(r.err, Catch::Contains("--progress bar: corral's stderr is not a terminal"));
    }
    hc.finish();
}

namespace {

// A tmux server of this test's own (-L), killed with everything in it when the test ends, however.
class Tmux {
public:
    Tmux() : socket_("corral-test-" + std::to_string(::getpid())) {}
    ~Tmux() { run({"tmux", "-L", socket_, "kill-server"}, within(10s)); }
    Tmux(const Tmux&) = delete;
    Tmux& operator=(const Tmux&) = delete;
    Outcome start(const std::string& command) {
        return run({"tmux", "-L", socket_, "new-session", "-d", "-x", "120", "-y", "30", command}, within(10s));
    }
    std::string capture() { return run({"tmux", "-L", socket_, "capture-pane", "-p"}, within(10s)).out; }

private:
    std::string socket_;
};

}  // namespace

TEST_CASE("on a terminal the status area appears, updates and is gone at the end with the summary intact",
          "[host][progress][host-only]") {
    HostCase hc;
    TempDir reports("tmux");
    Tmux tmux;
    // The suite prints a line, waits, prints another; the area shows it running meanwhile.
    const std::string command = corral_bin() + " run --report-dir " + reports.path() +
                                " --memory-max 64M --timeout 60s -- sh -c 'echo collecting ...; sleep 3; echo "
                                "finished-line' ; echo CORRAL-DONE rc=$?; sleep 60";
    auto started = tmux.start(command);
    INFO(started.describe());
    REQUIRE(started.exit_code == 0);
    const std::regex area(R"(adhoc\s+(\d+)s / 1m  \[[# ]{10}\] [0-9.]+ [KMG]?i?B / 64 MiB  collecting \.\.\.)");
    std::set<std::string> elapsed_seen;
    std::string screen, last_with_area;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
        screen = tmux.capture();
        std::smatch m;
        if (std::regex_search(screen, m, area)) {
            elapsed_seen.insert(m[1]);
            last_with_area = screen;
        }
        if (contains(screen, "CORRAL-DONE")) break;
        std::this_thread::sleep_for(100ms);
    }
    INFO("last screen with the area:\n" << last_with_area);
    INFO("final screen:\n" << screen);
    CHECK(elapsed_seen.size() >= 2);  // it was redrawn as the seconds went by
    REQUIRE(contains(screen, "CORRAL-DONE rc=0"));
    CHECK_FALSE(std::regex_search(screen, area));  // erased at the end
    CHECK_FALSE(contains(screen, "\x1b"));
    // The suite's output and the finished suite's line, then the summary, each on a line of its own.
    CHECK(std::regex_search(screen, std::regex(R"((^|\n)collecting \.\.\.\n)")));
    CHECK(std::regex_search(screen, std::regex(R"((^|\n)finished-line\n)")));
    CHECK(std::regex_search(screen, std::regex(R"(\ncorral: \[adhoc\] passed after [^\n]*\n)")));
    CHECK(std::regex_search(screen, std::regex(R"(\ncorral: 1 suite in [^\n]*\n  adhoc  passed )")));
    CHECK_THAT(screen, Catch::Contains("1 passed, 0 not passed"));
    hc.finish();
}
