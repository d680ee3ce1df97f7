// Host tier: profile keys the README promises and nothing else tested — env, env_clear, sample_interval,
// on_timeout's own timeout, CORRAL_SUITE, memory.swap_max — and the report's memory.samples and
// timeout_snapshot, each checked by what the suite saw or what the kernel holds.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

using namespace host;

namespace {

// `env` output ("NAME=value" a line) as a map.
std::map<std::string, std::string> env_of(const std::string& text) {
    std::map<std::string, std::string> vars;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (auto eq = line.find('='); eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
    return vars;
}

// The variable's value, or "(unset)".
std::string var(const std::map<std::string, std::string>& vars, const std::string& name) {
    auto it = vars.find(name);
    return it == vars.end() ? "(unset)" : it->second;
}

std::string names_of(const std::map<std::string, std::string>& vars) {
    std::vector<std::string> names;
    for (const auto& [k, v] : vars) names.push_back(k);
    return join(names);
}

// corral run --report-dir REPORTS [options...] PROFILE, the profile written from `yaml` into `work`.
Outcome run_profile(const TempDir& work, const TempDir& reports, const std::string& yaml,
                    const std::vector<std::string>& options = {}, const std::vector<std::string>& env = {}) {
    const std::string profile = work.file("profile.yaml");
    write_text(profile, yaml);
    std::vector<std::string> argv{"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {corral_bin(), "run", "--report-dir", reports.path()});
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(profile);
    return run(argv, within(60s));
}

// Gaps between consecutive memory samples, sorted.
std::vector<double> sample_gaps(const Json& s) {
    std::vector<double> gaps;
    const Json& samples = field(s, "/memory/samples");
    for (std::size_t i = 1; i < samples.size(); ++i)
        gaps.push_back(samples[i][0].get<double>() - samples[i - 1][0].get<double>());
    std::sort(gaps.begin(), gaps.end());
    return gaps;
}

// Waits (bounded) until `path` exists.
bool wait_for_path(const std::string& path, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!std::filesystem::exists(path)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

TEST_CASE("env: the profile's variables reach the suite beside the launcher's, the suite's own winning",
          "[host][profile][env]") {
    HostCase hc;
    TempDir work("env");
    TempDir reports("env-reports");
    const std::string launcher = "launcher-" + std::to_string(::getpid());
    auto r = run_profile(work, reports,
                         "defaults:\n"
                         "  env: {CORRAL_T_SHARED: from-defaults, CORRAL_T_OVERRIDDEN: from-defaults}\n"
                         "suites:\n"
                         "  - name: withenv\n"
                         "    command: [/usr/bin/env]\n"
                         "    env: {CORRAL_T_OVERRIDDEN: 'from the suite', CORRAL_T_OWN: 'a=b c'}\n",
                         {}, {"CORRAL_T_LAUNCHER=" + launcher});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "withenv");
    CHECK(str(s, "/verdict") == "passed");
    const auto vars = env_of(suite_stdout(s, reports.path()));
    INFO("the suite's environment: " << names_of(vars));
    CHECK(var(vars, "CORRAL_T_SHARED") == "from-defaults");
    CHECK(var(vars, "CORRAL_T_OVERRIDDEN") == "from the suite");
    CHECK(var(vars, "CORRAL_T_OWN") == "a=b c");
    // Without env_clear the launcher's environment is passed on.
    CHECK(var(vars, "CORRAL_T_LAUNCHER") == launcher);
    CHECK(vars.count("PATH") == 1);
    hc.finish();
}

TEST_CASE("env_clear: the suite gets only the profile's env and CORRAL_SUITE, none of the launcher's",
          "[host][profile][env]") {
    HostCase hc;
    TempDir work("env-clear");
    TempDir reports("env-clear-reports");
    auto r = run_profile(work, reports,
                         "defaults:\n"
                         "  env: {CORRAL_T_SHARED: from-defaults}\n"
                         "suites:\n"
                         "  - name: cleared\n"
                         "    command: [/usr/bin/env]\n"
                         "    env_clear: true\n"
                         "    env: {CORRAL_T_OWN: only-this}\n",
                         {}, {"CORRAL_T_LAUNCHER=must-not-pass"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "cleared");
    CHECK(str(s, "/verdict") == "passed");
    const auto vars = env_of(suite_stdout(s, reports.path()));
    const std::map<std::string, std::string> expected{
        {"CORRAL_SUITE", "cleared"}, {"CORRAL_T_OWN", "only-this"}, {"CORRAL_T_SHARED", "from-defaults"}};
    INFO("the suite's environment: " << names_of(vars));
    CHECK(vars == expected);
    hc.finish();
}

TEST_CASE("sample_interval: the report's memory samples are spaced by each suite's own interval",
          "[host][profile][samples]") {
    HostCase hc;
    TempDir work("interval");
    TempDir reports("interval-reports");
    // Three suites at once, alike but for the interval (default 100ms).
    auto r = run_profile(work, reports,
                         "defaults:\n"
                         "  command: [sleep, '1.6']\n"
                         "  timeout: 30s\n"
                         "suites:\n"
                         "  - name: coarse\n"
                         "    sample_interval: 300ms\n"
                         "  - name: fine\n"
                         "    sample_interval: 40ms\n"
                         "  - name: default\n",
                         {"--jobs", "3"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    struct Want {
        const char* name;
        double interval_s;
    };
    for (const Want& w : {Want{"coarse", 0.3}, Want{"fine", 0.04}, Want{"default", 0.1}}) {
        const Json& s = suite(report, w.name);
        const auto gaps = sample_gaps(s);
        const double duration = num(s, "/duration_s");
        INFO("suite " << w.name << ": " << gaps.size() + 1 << " samples over " << duration << " s, gaps "
                      << join([&] {
                             std::vector<std::string> g;
                             for (double d : gaps) g.push_back(std::to_string(d));
                             return g;
                         }()));
        REQUIRE(gaps.size() >= 3);
        const double median = gaps[gaps.size() / 2];
        CHECK(median >= 0.7 * w.interval_s);
        CHECK(median <= 1.5 * w.interval_s);
        // One sample at the start and one per interval after it (a late timer read merges two).
        CHECK(static_cast<double>(gaps.size()) <= duration / w.interval_s + 1);
        CHECK(static_cast<double>(gaps.size()) >= 0.5 * duration / w.interval_s - 1);
    }
    hc.finish();
}

TEST_CASE("memory.samples: [t_s, bytes, last line] with rising times, the usage of the time and its line",
          "[host][report][samples]") {
    HostCase hc;
    TempDir reports("samples");
    // Four steps of 8 MiB, each announced once touched and then held for 400 ms (samples every 100 ms).
    auto r =
        run_corral(adhoc(reports.path(), {"--name", "stairs", "--memory-max", "128M", "--timeout", "30s"},
                         {prog("staircase"), "4", "8", "400"}));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    const Json& s = suite(report, "stairs");
    const Json& samples = field(s, "/memory/samples");
    INFO("samples: " << samples.dump());
    CHECK(str(s, "/verdict") == "passed");
    REQUIRE(samples.size() >= 8);
    const std::regex holding("holding ([0-9]+) MiB");
    double last_t = -1;
    std::uint64_t highest = 0;
    int last_step = 0;
    std::set<int> steps_seen;
    for (const auto& sample : samples) {
        REQUIRE(sample.is_array());
        REQUIRE(sample.size() == 3);
        REQUIRE(sample[0].is_number());
        REQUIRE(sample[1].is_number_unsigned());
        REQUIRE(sample[2].is_string());
        const double t = sample[0].get<double>();
        const auto bytes = sample[1].get<std::uint64_t>();
        const std::string line = sample[2].get<std::string>();
        INFO("sample at t=" << t << ": " << bytes << " bytes, line '" << line << "'");
        CHECK(t > last_t);
        last_t = t;
        highest = std::max(highest, bytes);
        CHECK(bytes > 0);
        CHECK(bytes <= 128 * kMiB);
        // The line printed by then: its step is touched (at least that much in use) and at most the
        // next step is on its way.
        int step_mib = 0;
        std::smatch m;
        if (!line.empty()) {
            REQUIRE(std::regex_match(line, m, holding));
            step_mib = std::stoi(m[1]);
        }
        CHECK(step_mib >= last_step);  // lines in the order they were printed
        last_step = step_mib;
        steps_seen.insert(step_mib);
        // The last sample may come after the program exited and freed its memory, before corral
        // saw the exit: its line is the last one printed, its usage that of an empty box.
        const bool after_exit = &sample == &samples.back() && bytes < kMiB;
        if (!after_exit) CHECK(bytes >= static_cast<std::uint64_t>(step_mib) * kMiB);
        CHECK(bytes <= static_cast<std::uint64_t>(step_mib + 8 + 6) * kMiB);
    }
    CHECK(num(s, "/memory/samples/0/0") < 0.25);  // the first at the start
    CHECK(last_t <= num(s, "/duration_s"));
    // Every step was held for four sample intervals: each line is in some sample.
    for (int step : {8, 16, 24, 32}) {
        INFO("a sample whose line is 'holding " << step << " MiB'");
        CHECK(steps_seen.count(step) == 1);
    }
    CHECK(highest >= 32 * kMiB);
    CHECK(num(s, "/memory/peak_sample/bytes") == static_cast<double>(highest));
    hc.finish();
}

TEST_CASE("timeout_snapshot: on a timeout, every process of the tree with pid, ppid, comm, cmdline and state",
          "[host][report][timeout]") {
    HostCase hc;
    TempDir work("snapshot");
    TempDir reports("snapshot-reports");
    const std::string child_marker = hc.sleep_marker(), orphan_marker = hc.sleep_marker();
    // The main shell, a child of it and an orphan (its parent subshell exits at once): three processes.
    const std::string script = "echo $$ > " + work.file("main") + "; sleep " + child_marker +
                               " & echo $! > " + work.file("child") + "; (sleep " + orphan_marker +
                               " & echo $! > " + work.file("orphan") + "); wait";
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), "--name", "tree", "--memory-max",
                  "64M", "--timeout", "2s", "--kill-grace", "1s", "--", "sh", "-c", script},
                 within(30s));
    const pid_t corral_pid = corral.pid();
    auto r = corral.wait();
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "tree");
    CHECK(str(s, "/verdict") == "timeout");
    auto pid_in = [&](const std::string& name) { return std::stol(read_text(work.file(name))); };
    const long main_pid = pid_in("main"), child_pid = pid_in("child"), orphan_pid = pid_in("orphan");
    struct Expected {
        long ppid;
        std::string comm, cmdline;
    };
    // The orphan's parent is corral, the child subreaper.
    const std::map<long, Expected> expected{
        {main_pid, {corral_pid, "sh", "sh -c " + script}},
        {child_pid, {main_pid, "sleep", "sleep " + child_marker}},
        {orphan_pid, {corral_pid, "sleep", "sleep " + orphan_marker}},
    };
    const Json& snap = field(s, "/timeout_snapshot");
    REQUIRE(snap.is_array());
    std::set<long> pids;
    for (const auto& p : snap) {
        INFO("process " << p.dump());
        const long pid = p.at("pid").get<long>();
        pids.insert(pid);
        auto it = expected.find(pid);
        REQUIRE(it != expected.end());
        CHECK(p.at("ppid").get<long>() == it->second.ppid);
        CHECK(p.at("comm").get<std::string>() == it->second.comm);
        CHECK(p.at("cmdline").get<std::string>() == it->second.cmdline);
        const std::string state = p.at("state").get<std::string>();
        CHECK(state.size() == 1);
        CHECK_THAT(state, Catch::Matches("[RSD]"));  // alive, not yet signalled
        CHECK(p.at("rss_bytes").get<std::uint64_t>() > 0);
        CHECK(p.at("wchan").is_string());
    }
    CHECK(pids.size() == expected.size());
    hc.finish();
}

TEST_CASE("on_timeout's own timeout: a hook that outlives it is killed, said so, and the suite still ends",
          "[host][profile][hook]") {
    HostCase hc;
    TempDir work("hook-timeout");
    TempDir reports("hook-timeout-reports");
    const std::string suite_marker = hc.sleep_marker(), hook_marker = hc.sleep_marker();
    auto r = run_profile(work, reports,
                         "name: slowhook\n"
                         "command: [sleep, '" +
                             suite_marker +
                             "']\n"
                             "timeout: 1s\n"
                             "kill_grace: 1s\n"
                             "on_timeout:\n"
                             "  command: [sleep, '" +
                             hook_marker +
                             "']\n"
                             "  timeout: 500ms\n");
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    CHECK(r.wall_s < 10);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "slowhook");
    CHECK(str(s, "/verdict") == "timeout");
    const Json& hook = field(s, "/on_timeout");
    CHECK(hook.at("argv") == Json::array({"sleep", hook_marker}));
    CHECK(hook.at("timed_out") == true);
    CHECK(hook.at("signal") == "SIGKILL");
    CHECK(hook.at("exit_code").is_null());
    CHECK(hook.at("error").is_null());
    CHECK(hook.at("duration_s").get<double>() >= 0.45);
    CHECK(hook.at("duration_s").get<double>() < 5);
    // The suite's timeout, then the hook's limit, then the tree ended (sleep dies of the SIGTERM).
    CHECK(num(s, "/duration_s") >= 1.45);
    CHECK(num(s, "/duration_s") < 8);
    hc.finish();  // neither sleep is left
}

TEST_CASE(
    "CORRAL_SUITE: each suite sees its own name, and the on_timeout hook sees CORRAL_SUITE and CORRAL_PIDS",
    "[host][profile][hook]") {
    HostCase hc;
    TempDir work("suite-name");
    TempDir reports("suite-name-reports");
    const std::string hook_out = work.file("hook.txt");
    // One command for every suite, from the defaults.
    auto r = run_profile(work, reports,
                         "defaults:\n"
                         "  command: [sh, -c, 'echo \"I am $CORRAL_SUITE\"']\n"
                         "  timeout: 30s\n"
                         "suites:\n"
                         "  - name: first\n"
                         "  - name: second.one\n"
                         "  - name: hooked\n"
                         "    command: [sleep, '" +
                             hc.sleep_marker() +
                             "']\n"
                             "    timeout: 1s\n"
                             "    kill_grace: 1s\n"
                             "    on_timeout: [sh, -c, 'echo \"$CORRAL_SUITE|$CORRAL_PIDS\" > " +
                             hook_out + "']\n",
                         {"--jobs", "3"});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    for (const char* name : {"first", "second.one"}) {
        const Json& s = suite(report, name);
        CHECK(str(s, "/verdict") == "passed");
        CHECK(suite_stdout(s, reports.path()) == "I am " + std::string(name) + "\n");
    }
    const Json& hooked = suite(report, "hooked");
    CHECK(str(hooked, "/verdict") == "timeout");
    const std::string text = trimmed(read_text(hook_out));
    INFO("the hook wrote '" << text << "'");
    const auto bar = text.find('|');
    REQUIRE(bar != std::string::npos);
    CHECK(text.substr(0, bar) == "hooked");
    std::set<long> hook_pids, snapshot_pids;
    std::istringstream in(text.substr(bar + 1));
    for (long p; in >> p;) hook_pids.insert(p);
    for (const auto& p : field(hooked, "/timeout_snapshot")) snapshot_pids.insert(p.at("pid").get<long>());
    CHECK(!hook_pids.empty());
    CHECK(hook_pids == snapshot_pids);
    hc.finish();
}

TEST_CASE("memory.swap_max: v1 memory.memsw.limit_in_bytes = memory.max + swap_max (v2 memory.swap.max)",
          "[host][profile][swap]") {
    HostCase hc;
    TempDir work("swap");
    TempDir reports("swap-reports");
    const auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    REQUIRE(mem != nullptr);
    // This host (v1) has swap accounting on, whether or not swap is configured; the VM tier runs v2.
    if (!mem->v2) REQUIRE(std::filesystem::exists(mem->dir + "/memory.memsw.limit_in_bytes"));
    const std::string ready = work.file("ready"), go = work.file("go");
    Child corral({corral_bin(), "run", "--report-dir", reports.path(), "--name", "swapbox", "--memory-max",
                  "64M", "--swap-max", "32M", "--timeout", "30s", "--", "sh", "-c",
                  "touch " + ready + "; while [ ! -e " + go + " ]; do sleep 0.05; done"},
                 within(40s));
    const bool started = wait_for_path(ready, 20s);
    std::string box;
    for (const auto& e : std::filesystem::directory_iterator(mem->dir))
        if (e.path().filename().string().rfind("corral-swapbox-", 0) == 0) box = e.path();
    std::map<std::string, std::string> files;
    for (const char* f :
         {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max", "memory.swap.max"})
        if (!box.empty() && std::filesystem::exists(box + "/" + f))
            files[f] = trimmed(read_text(box + "/" + f));
    write_text(go, "");
    auto r = corral.wait();
    INFO(r.describe());
    REQUIRE(started);
    INFO("box " << box);
    REQUIRE(!box.empty());
    if (mem->v2) {
        CHECK(files["memory.max"] == "67108864");
        CHECK(files["memory.swap.max"] == "33554432");
    } else {
        CHECK(files["memory.limit_in_bytes"] == "67108864");
        CHECK(files["memory.memsw.limit_in_bytes"] == "100663296");  // 64 MiB + 32 MiB
    }
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "swapbox");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(num(s, "/limits/swap_max_bytes") == 32.0 * kMiB);
    hc.finish();
}

TEST_CASE("memory.swap_max without memory.max is a launch error on v1 that says to set memory.max",
          "[host][profile][swap]") {
    HostCase hc;
    TempDir reports("swap-alone");
    const auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    REQUIRE(mem != nullptr);
    auto r = run_corral(adhoc(reports.path(), {"--name", "swaponly", "--swap-max", "32M"}, {"true"}));
    INFO(r.describe());
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "swaponly");
    if (mem->v2) {
        CHECK(r.exit_code == 0);  // memory.swap.max stands on its own on v2
        CHECK(str(s, "/verdict") == "passed");
    } else {
        CHECK(r.exit_code == 1);
        CHECK(str(s, "/verdict") == "launch-error");
        CHECK_THAT(str(s, "/launch_error"), Catch::Contains("memory.memsw.limit_in_bytes"));
        CHECK_THAT(str(s, "/launch_error"), Catch::Contains("set memory.max too"));
    }
    hc.finish();
}
