// Host tier: what goes wrong stays with the suite it happened to, and the report is always written:
// an error in one suite's handling, a hook that hangs, a signal that comes late or twice, an output
// file that cannot be written, a stale box that cannot be removed yet, a keeper reaped behind its back.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "corral/base/fd.hpp"
#include "corral/box/keeper.hpp"
#include "corral/box/make_backend.hpp"
#include "harness.hpp"

using namespace host;

namespace {

std::string runtime_dir_of(const TempDir& d) { return "CORRAL_RUNTIME_DIR=" + d.path(); }

// Everything a FIFO's writer writes until it closes, waiting at most `limit` (a writer that died
// gives what it wrote, maybe nothing, rather than a test that hangs).
std::string read_fifo(const std::string& path, std::chrono::milliseconds limit) {
    corral::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd.get(), POLLIN, 0};
        ::poll(&p, 1, 100);
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<std::size_t>(n));
        if (n == 0) break;  // the writer closed it
    }
    return out;
}

// A stale box: a corral SIGKILLed while its suite (`sleep MARKER`) runs. Returns the box's name.
std::string make_stale_box(const std::string& runtime_env, const std::string& sleep_marker, const std::string& tag) {
    TempDir reports(tag);
    Child corral({"env", runtime_env, corral_bin(), "run", "--report-dir", reports.path(), "--name", tag, "--", "sleep",
                  sleep_marker},
                 within(30s));
    REQUIRE(wait_for_process(sleep_marker, "sleep", 10s));
    corral.signal(SIGKILL);
    corral.wait();
    auto left = leftover_cgroups();
    for (const auto& d : left)
        if (d.find("/corral-" + tag + "-") != std::string::npos) return d.substr(d.rfind('/') + 1);
    FAIL("no box of the SIGKILLed corral found: " << join(left));
    return "";
}

}  // namespace

TEST_CASE("an error while handling one suite ends that suite, the others go on and the report is written",
          "[host][resilience]") {
    HostCase hc;
    TempDir work("fault");
    TempDir reports("fault-reports");
    const std::string marker = hc.sleep_marker();
    const std::string profile = work.file("fault.yaml");
    write_text(profile, "defaults: {memory: {max: 128M}}\n"
                        "suites:\n"
                        "  - name: faulty\n"
                        "    command: [sleep, '" + marker + "']\n"
                        "    timeout: 1s\n"
                        "  - name: unsampled\n"
                        "    command: sleep 0.5\n"
                        "  - name: healthy\n"
                        "    command: sleep 2 && echo fine\n");
    // The SIGTERM of faulty's timeout fails (as a bus call or a cgroup file can), and so does every
    // memory sample of 'unsampled'.
    auto r = run({"env", "CORRAL_FAULT=signal:faulty,sample:unsampled", corral_bin(), "run", "--jobs", "3",
                  "--report-dir", reports.path(), profile},
                 within(60s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);  // not 3: corral went on
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& faulty = suite(report, "faulty");
    CHECK(str(faulty, "/verdict") == "timeout");
    CHECK_THAT(notes_of(report, faulty),
               Catch::Contains("corral failed while ending the suite's tree: injected fault in signal"));
    CHECK(marker_processes(marker).empty());  // its tree was still killed
    const Json& unsampled = suite(report, "unsampled");
    CHECK(str(unsampled, "/verdict") == "passed");
    CHECK_THAT(notes_of(report, unsampled), Catch::Contains("a memory sample failed at t="));
    const Json& healthy = suite(report, "healthy");
    CHECK(str(healthy, "/verdict") == "passed");
    CHECK(suite_stdout(healthy, reports.path()) == "fine\n");
    hc.finish();
}

TEST_CASE("an on_timeout hook keeps its own time limit through an interrupt, and a second one kills it",
          "[host][resilience][hook]") {
    HostCase hc;
    TempDir work("hook");
    TempDir reports("hook-reports");
    const std::string suite_marker = hc.sleep_marker(), hook_marker = hc.sleep_marker();
    const bool twice = GENERATE(false, true);
    CAPTURE(twice);
    const std::string profile = work.file("hook.yaml");
    // The hook ignores SIGTERM and starts a child of its own that ignores it too.
    write_text(profile, "name: hooked\n"
                        "command: [sleep, '" + suite_marker + "']\n"
                        "memory: {max: 128M}\n"
                        "timeout: 500ms\n"
                        "kill_grace: 10s\n"
                        "on_timeout:\n"
                        "  command: [sh, -c, \"trap '' TERM; sleep " + hook_marker + " & wait\"]\n"
                        "  timeout: 2s\n");
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), profile}, within(30s));
    REQUIRE(wait_for_process(hook_marker, "sleep", 10s));
    const auto t0 = std::chrono::steady_clock::now();
    corral.signal(SIGINT);
    if (twice) {
        std::this_thread::sleep_for(200ms);
        corral.signal(SIGINT);
    }
    auto r = corral.wait();
    const double after_signal = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(r.describe());
    CHECK(!r.hung);
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "hooked");
    CHECK(str(s, "/verdict") == "timeout");
    CHECK(field(s, "/interrupted").get<bool>());
    if (twice) {
        // The second interrupt ends the hook at once, with what it started.
        CHECK(after_signal < 1.5);
        CHECK(str(s, "/on_timeout/error") == "killed by corral's second interrupt");
    } else {
        // The first interrupt asks the hook to stop; it ignores that, and its own 2s limit ends it
        // (not the suite's 10s grace, and not never).
        CHECK(after_signal < 4.0);
        CHECK(field(s, "/on_timeout/timed_out").get<bool>());
        CHECK(str(s, "/on_timeout/signal") == "SIGKILL");
    }
    CHECK(marker_processes(hook_marker).empty());  // the hook's own child went with it
    CHECK(marker_processes(suite_marker).empty());
    hc.finish();
}

TEST_CASE("a second SIGTERM to corral SIGKILLs at once, and the explanation says the grace was cut short",
          "[host][resilience][signals]") {
    HostCase hc;
    const std::string marker = hc.marker("twice");
    TempDir reports("twice");
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), "--name", "stubborn", "--memory-max", "128M",
                  "--kill-grace", "10s", "--", prog("hang_daemon"), marker},
                 within(30s));
    REQUIRE(wait_for_process(marker, "hang_daemon", 10s));
    std::this_thread::sleep_for(300ms);  // the daemon has forked
    const auto t0 = std::chrono::steady_clock::now();
    corral.signal(SIGTERM);
    std::this_thread::sleep_for(300ms);
    corral.signal(SIGTERM);
    auto r = corral.wait();
    INFO(r.describe());
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 1);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 3.0);  // not the 10s grace
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "stubborn");
    CHECK(str(s, "/verdict") == "interrupted");
    CHECK(num(s, "/kill_signalled") >= 1);
    CHECK(num(s, "/grace_cut_s") < 2.0);
    CHECK_THAT(str(s, "/explanation"), Catch::Contains("then a second interrupt SIGKILLed"));
    CHECK_THAT(str(s, "/explanation"), !Catch::Contains("after the 10s grace"));
    CHECK(marker_processes(marker).empty());
    hc.finish();
}

TEST_CASE("a signal that comes while corral writes its report does not kill corral before the report is out",
          "[host][resilience][signals]") {
    HostCase hc;
    TempDir reports("late-signal");
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), "--name", "quick", "--memory-max", "64M",
                  "--", "sleep", "0.3"},
                 within(30s));
    // corral writes the report to report.json.tmp.<pid>, then renames it: a FIFO there holds corral in
    // its open() until we read, a window as wide as we like between the suites' end and the report.
    const std::string tmp = reports.file("report.json.tmp." + std::to_string(corral.pid()));
    REQUIRE(::mkfifo(tmp.c_str(), 0644) == 0);
    const std::string wchan = "/proc/" + std::to_string(corral.pid()) + "/wchan";
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (corral.running() && std::chrono::steady_clock::now() < deadline) {
        std::string w;
        try {
            w = read_text(wchan);
        } catch (const std::exception&) {
        }
        if (w == "wait_for_partner") break;  // blocked opening the FIFO
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(corral.running());
    corral.signal(SIGTERM);
    corral.signal(SIGINT);
    std::this_thread::sleep_for(100ms);
    const std::string written = read_fifo(tmp, 20s);  // lets corral go on
    auto r = corral.wait();
    INFO(r.describe());
    CHECK(r.term_signal == 0);  // the signals stayed blocked: corral was not killed by them
    CHECK(r.exit_code == 0);
    const Json report = Json::parse(written);  // the whole report came out
    CHECK(str(suite(report, "quick"), "/verdict") == "passed");
    hc.finish();
}

TEST_CASE("an output file that cannot be written is noted, and the suite and the run go on", "[host][resilience]") {
    HostCase hc;
    TempDir reports("fsize");
    // The files corral writes may be at most 256 KiB (ulimit -f counts 512-byte blocks); the suite prints 1 MiB.
    std::vector<std::string> argv{"sh", "-c", "ulimit -f 512 && exec \"$@\"", "sh", corral_bin()};
    for (const auto& a : adhoc(reports.path(), {"--name", "big", "--memory-max", "128M"},
                               {"sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' y; echo; echo the end"}))
        argv.push_back(a);
    auto r = run(argv, within(30s));
    INFO(r.describe());
    CHECK(r.term_signal == 0);  // SIGXFSZ does not kill corral
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    const Json& s = suite(report, "big");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(str(s, "/last_line") == "the end");  // the live view went on after the file stopped
    CHECK_THAT(notes_of(report, s), Catch::Contains("big.stdout failed after 256 KiB: File too large"));
    CHECK_THAT(notes_of(report, s), Catch::Contains("the rest of the output is not in the file"));
    hc.finish();
}

TEST_CASE("boxes of a live corral with another runtime directory are never taken for stale", "[host][stale]") {
    HostCase hc;
    TempDir dir_a("runtime-a"), dir_b("runtime-b"), reports_a("rt-a"), reports_b("rt-b");
    const std::string marker = hc.sleep_marker();
    Child a({"env", runtime_dir_of(dir_a), corral_bin(), "run", "--report-dir", reports_a.path(), "--name", "long",
             "--timeout", "20s", "--", "sleep", marker},
            within(40s));
    REQUIRE(wait_for_process(marker, "sleep", 10s));
    // Another corral, its lock in another runtime directory: A's lock file is not there, which says
    // nothing about whether A lives.
    auto b = run({"env", runtime_dir_of(dir_b), corral_bin(), "run", "--report-dir", reports_b.path(), "--name",
                  "short", "--", "true"},
                 within(30s));
    INFO(b.describe());
    CHECK(b.exit_code == 0);
    CHECK_THAT(b.err, !Catch::Contains("stale"));
    CHECK_FALSE(marker_processes(marker).empty());  // A's suite still runs
    a.signal(SIGTERM);
    auto ra = a.wait();
    INFO(ra.describe());
    CHECK(str(suite(load_report(reports_a.path()), "long"), "/verdict") == "interrupted");
    hc.finish();
}

TEST_CASE("a stale box that cannot be emptied yet is a warning, not a failed run, and a later run removes it",
          "[host][stale]") {
    HostCase hc;
    TempDir runtime("runtime-stuck");
    const std::string env = runtime_dir_of(runtime);
    const std::string marker = hc.sleep_marker();
    const std::string box = make_stale_box(env, marker, "stuckstale");
    const std::string id = box.substr(box.rfind('-') + 1);
    REQUIRE(std::filesystem::exists(runtime.file(id + ".lock")));
    const auto* freezer = [] {
        static auto hs = own_hierarchies();
        for (const auto& h : hs)
            if (h.controllers == "freezer") return &h;
        return static_cast<const Hierarchy*>(nullptr);
    }();
    auto sleeper = marker_processes(marker);
    REQUIRE(sleeper.size() == 1);
    std::string frozen_dir;
    if (freezer) {
        // v1: the stale suite's process is frozen in a freezer cgroup that is not its box's (someone
        // else's doing): SIGKILL cannot end it until that freezer thaws.
        frozen_dir = freezer->dir + "/" + hc.marker("frozen");
        std::filesystem::create_directory(frozen_dir);
        write_text(frozen_dir + "/cgroup.procs", std::to_string(sleeper[0].pid));
        write_text(frozen_dir + "/freezer.state", "FROZEN");
    } else {
        // v2: freeze the stale box itself; cgroup.kill ends frozen tasks too.
        for (const auto& h : own_hierarchies())
            if (h.v2) write_text(h.dir + "/" + box + "/cgroup.freeze", "1");
    }
    TempDir reports("stale-next");
    auto r = run({"env", env, corral_bin(), "run", "--report-dir", reports.path(), "--name", "next", "--", "true"},
                 within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);  // an old box never fails a new run
    CHECK(str(suite(load_report(reports.path()), "next"), "/verdict") == "passed");
    if (freezer) {
        CHECK_THAT(r.err, Catch::Contains("could not be removed yet"));
        CHECK_THAT(r.err, Catch::Contains("a later run tries again"));
        CHECK(std::filesystem::exists(runtime.file(id + ".lock")));  // kept: the box is still stale
        write_text(frozen_dir + "/freezer.state", "THAWED");  // its SIGKILL ends it now
        TempDir again("stale-again");
        auto r2 = run({"env", env, corral_bin(), "run", "--report-dir", again.path(), "--name", "again", "--", "true"},
                      within(30s));
        INFO(r2.describe());
        CHECK(r2.exit_code == 0);
        CHECK_THAT(r2.err, Catch::Contains("removed stale box"));
        std::filesystem::remove(frozen_dir);
    } else {
        CHECK_THAT(r.err, Catch::Contains("removed stale box"));
    }
    CHECK_FALSE(std::filesystem::exists(runtime.file(id + ".lock")));  // forgotten once its boxes are gone
    CHECK(marker_processes(marker).empty());
    hc.finish();
}

TEST_CASE("two runs that find the same stale box at once both go on", "[host][stale]") {
    HostCase hc;
    TempDir runtime("runtime-race");
    const std::string env = runtime_dir_of(runtime);
    const std::string marker = hc.sleep_marker();
    make_stale_box(env, marker, "racestale");
    TempDir r1("race-1"), r2("race-2");
    Child one({"env", env, corral_bin(), "run", "--report-dir", r1.path(), "--name", "one", "--", "true"}, within(30s));
    Child two({"env", env, corral_bin(), "run", "--report-dir", r2.path(), "--name", "two", "--", "true"}, within(30s));
    auto o1 = one.wait(), o2 = two.wait();
    INFO(o1.describe());
    INFO(o2.describe());
    CHECK(o1.exit_code == 0);
    CHECK(o2.exit_code == 0);
    CHECK(marker_processes(marker).empty());
    hc.finish();  // and the stale box is gone
}

TEST_CASE("the scope keeper is signalled through its pidfd only: once reaped, its pid reused is left alone",
          "[host][keeper]") {
    corral::Keeper keeper;
    const pid_t pid = keeper.pid();
    // What the orphan reaper could do: the keeper ends and is reaped behind its owner's back.
    REQUIRE(::kill(pid, SIGKILL) == 0);
    REQUIRE(::waitpid(pid, nullptr, 0) == pid);
    // Another process gets the same pid (ns_last_pid: the next fork takes last + 1).
    pid_t victim = -1;
    for (int attempt = 0; attempt < 200 && victim != pid; ++attempt) {
        if (victim > 0) {
            ::kill(victim, SIGKILL);
            ::waitpid(victim, nullptr, 0);
        }
        write_text("/proc/sys/kernel/ns_last_pid", std::to_string(pid - 1));
        victim = ::fork();
        if (victim == 0) {
            ::pause();
            ::_exit(0);
        }
    }
    REQUIRE(victim == pid);
    keeper.kill();
    CHECK(keeper.reaped());
    std::this_thread::sleep_for(50ms);
    int status = 0;
    CHECK(::waitpid(victim, &status, WNOHANG) == 0);  // the other process still runs
    ::kill(victim, SIGKILL);
    ::waitpid(victim, nullptr, 0);
}

TEST_CASE("v1: a box cgroup removed before the suite entered it is made again, with its limits", "[host][v1]") {
    // What systemd does on a v1 machine when it prunes its root slice: it removes every empty cgroup of
    // the hierarchy, and a box is empty until its suite enters it.
    std::string why;
    auto backend = corral::make_backend("0f0f0f0f", false, why);
    REQUIRE(backend->name() == "cgroup-v1");
    auto box = backend->create_box("remade");
    corral::Limits limits;
    limits.memory_max = 64 * kMiB;
    box->apply_limits(limits);
    std::string memory_dir;
    std::istringstream dirs(box->describe());
    for (std::string d; dirs >> d;)
        if (d.find("/memory/") != std::string::npos) memory_dir = d;
    REQUIRE_FALSE(memory_dir.empty());
    REQUIRE(::rmdir(memory_dir.c_str()) == 0);
    corral::Keeper process;
    CHECK(box->enter(process.pid()));
    CHECK(contains(read_text(memory_dir + "/cgroup.procs"), std::to_string(process.pid())));
    CHECK(std::stoull(read_text(memory_dir + "/memory.limit_in_bytes")) == 64 * kMiB);
    CHECK_THAT(join(box->notes()), Catch::Contains(memory_dir + " vanished before the suite entered it"));
    process.kill();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!process.reaped() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    while (auto again = box->release()) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(*again);
    }
    CHECK_FALSE(std::filesystem::exists(memory_dir));
}

TEST_CASE("corral that cannot become the suites' subreaper says so and runs nothing", "[host][resilience]") {
    // A seccomp profile that refuses prctl: without PR_SET_CHILD_SUBREAPER the suites' orphans would
    // go to init, out of corral's sight.
    TempDir reports("no-subreaper");
    std::vector<std::string> argv{prog("deny_syscall"), "prctl", "1", corral_bin()};
    for (const auto& a : adhoc(reports.path(), {"--name", "orphaned"}, {"true"})) argv.push_back(a);
    auto r = run(argv, within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Catch::Contains("prctl(PR_SET_CHILD_SUBREAPER): Operation not permitted"));
}

TEST_CASE("v2: an on_timeout hook whose pidfd cannot be opened is killed, not left running", "[host][v2][hook]") {
    // On v2 the suite starts with clone3(CLONE_PIDFD) and needs no pidfd_open; the hook, started with
    // fork, does: refused, corral must end the hook it cannot watch.
    HostCase hc;
    TempDir work("hook-pidfd");
    TempDir reports("hook-pidfd-reports");
    const std::string hook_marker = hc.sleep_marker();
    const std::string profile = work.file("hook.yaml");
    write_text(profile, "name: watched\n"
                        "command: [sleep, '30']\n"
                        "memory: {max: 64M}\n"
                        "timeout: 300ms\n"
                        "kill_grace: 1s\n"
                        "on_timeout:\n"
                        "  command: [sleep, '" + hook_marker + "']\n"
                        "  timeout: 5s\n");
    auto r = run({prog("deny_syscall"), "pidfd_open", "1", corral_bin(), "run", "--report-dir", reports.path(), profile},
                 within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "watched");
    CHECK(str(s, "/verdict") == "timeout");
    CHECK_THAT(str(s, "/on_timeout/error"), Catch::Contains("pidfd_open"));
    CHECK(marker_processes(hook_marker).empty());  // the hook did not outlive corral
    hc.finish();
}
