// Host tier: `corral run` flags the README promises — --backend cgroup, --oom-source, --oom-settle —
// and the default report directory, each checked by what the run did, not by its help text.
#include <time.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "corral/oom/journal.hpp"
#include "harness.hpp"

using namespace host;
namespace fs = std::filesystem;

namespace {

// "20240501T120000Z" → seconds since the epoch; -1 when it is not such a timestamp.
time_t utc_stamp(const std::string& text) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), "%Y%m%dT%H%M%SZ", &tm);
    if (end == nullptr || *end != '\0') return -1;
    return ::timegm(&tm);
}

// Waits until a new wall-clock second has just begun (at most one second): runs started right after
// it start within the same second.
void align_to_second() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    std::this_thread::sleep_for(std::chrono::nanoseconds(1'000'000'000L - now.tv_nsec) + 10ms);
}

}  // namespace

TEST_CASE(
    "run --backend cgroup overrides a profile's backend: the cgroup backend runs the suite and the report "
    "says why",
    "[host][flags][backend]") {
    HostCase hc;
    TempDir work("backend");
    const std::string profile = work.file("scope.yaml");
    write_text(profile,
               "name: forced\n"
               "command: [cat, /proc/self/cgroup]\n"
               "backend: systemd-scope\n"
               "memory: {max: 64M}\n");
    const auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    REQUIRE(mem != nullptr);
    const std::string cgroup_backend = mem->v2 ? "cgroup-v2" : "cgroup-v1";
    {
        // Without the flag the profile's choice stands: the scope, or (no systemd manager here, as in
        // CI) an error that says why and points at the cgroup backend.
        TempDir reports("backend-profile");
        auto r = run_corral({"run", "--report-dir", reports.path(), profile});
        INFO(r.describe());
        if (r.exit_code == 0) {
            const Json& s = suite(load_report(reports.path()), "forced");
            CHECK(str(s, "/backend") == "systemd-scope");
            CHECK(str(s, "/backend_reason") == "backend: systemd-scope");
        } else {
            CHECK(r.exit_code == 3);
            CHECK_THAT(r.err,
                       Catch::Contains("every suite asks for backend: systemd-scope, but no systemd manager "
                                       "could be used (connecting to the system bus"));
            CHECK_THAT(r.err, Catch::Contains("--backend cgroup"));
        }
    }
    TempDir reports("backend-flag");
    auto r = run_corral({"run", "--backend", "cgroup", "--report-dir", reports.path(), profile});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    CHECK(str(report, "/backend") == cgroup_backend);
    const Json& s = suite(report, "forced");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(str(s, "/backend") == cgroup_backend);
    CHECK(str(s, "/backend_reason") == "--backend cgroup");
    CHECK(field(s, "/systemd").is_null());
    CHECK_THAT(str(s, "/cgroup"), Catch::Contains(mem->dir + "/corral-forced-"));
    CHECK(num(s, "/limits/memory_max_bytes") == 64.0 * kMiB);
    hc.finish();
}

TEST_CASE(
    "run --oom-source: kmsg attributes a real OOM kill from /dev/kmsg, none reads no records, journal needs "
    "journald",
    "[host][flags][oom-source]") {
    HostCase hc;
    auto oom_run = [](const TempDir& reports, const std::string& source) {
        return run_corral(
            adhoc(reports.path(),
                  {"--oom-source", source, "--name", "oomsrc", "--memory-max", "32M", "--timeout", "30s"},
                  {prog("alloc"), "256"}));
    };
    {
        TempDir reports("oomsrc-kmsg");
        auto r = oom_run(reports, "kmsg");
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        auto report = load_report(reports.path());
        INFO(brief(report));
        CHECK(str(report, "/oom/source") == "kmsg");
        const Json& s = suite(report, "oomsrc");
        CHECK(str(s, "/verdict") == "oom-killed");
        REQUIRE(field(s, "/oom/records").size() == 1);
        CHECK(str(s, "/oom/records/0/source") == "kmsg");
        CHECK(str(s, "/oom/records/0/victim/comm") == "alloc");
        CHECK(str(s, "/oom/records/0/whose_limit") == "own");
    }
    {
        // The kill is still counted (the box's own counter), but no record is read.
        TempDir reports("oomsrc-none");
        auto r = oom_run(reports, "none");
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        auto report = load_report(reports.path());
        INFO(brief(report));
        CHECK(str(report, "/oom/source") == "none");
        const Json& s = suite(report, "oomsrc");
        CHECK(str(s, "/verdict") == "oom-killed");
        CHECK(num(s, "/oom/kills") >= 1);
        CHECK(field(s, "/oom/records").empty());
    }
    {
        // The systemd tier attributes a kill from the journal; without journald it is an error up front.
        TempDir reports("oomsrc-journal");
        auto r = oom_run(reports, "journal");
        INFO(r.describe());
        if (corral::JournalReader::available()) {
            CHECK(r.exit_code == 1);
            CHECK(str(load_report(reports.path()), "/oom/source") == "journal");
        } else {
            CHECK(r.exit_code == 3);
            CHECK_THAT(r.err, Catch::Contains("journald is not running"));
            CHECK_FALSE(fs::exists(reports.file("report.json")));
        }
    }
    hc.finish();
}

TEST_CASE(
    "run --oom-settle takes a duration, a bad one is exit 2 naming the flag, and no missing record means no "
    "wait",
    "[host][flags][oom-settle]") {
    HostCase hc;
    {
        TempDir reports("settle-bad");
        const std::string ran = reports.file("ran");
        auto r = run_corral(
            adhoc(reports.path(), {"--oom-settle", "5parsecs", "--name", "settle"}, {"touch", ran}));
        INFO(r.describe());
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Catch::Contains("--oom-settle '5parsecs'"));
        CHECK_FALSE(fs::exists(ran));  // nothing was run
        CHECK_FALSE(fs::exists(reports.file("report.json")));
    }
    {
        // Every kill's record arrived (kmsg logs it before the kill is counted): the long window is not
        // waited.
        TempDir reports("settle-long");
        auto r = run_corral(adhoc(reports.path(),
                                  {"--oom-settle", "30s", "--oom-source", "kmsg", "--name", "settle",
                                   "--memory-max", "32M", "--timeout", "30s"},
                                  {prog("alloc"), "256"}),
                            within(60s));
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        CHECK(r.wall_s < 15);
        auto report = load_report(reports.path());
        INFO(brief(report));
        const Json& s = suite(report, "settle");
        CHECK(str(s, "/verdict") == "oom-killed");
        CHECK(field(s, "/oom/records").size() == 1);
    }
    hc.finish();
}

TEST_CASE(
    "without --report-dir each run writes corral-reports/<UTC timestamp> in its working directory, "
    "runs in the same second each their own",
    "[host][flags][report-dir]") {
    HostCase hc;
    TempDir work("default-dir");
    auto start = [&](const std::string& name) {
        return std::make_unique<Child>(std::vector<std::string>{corral_bin(), "run", "--name", name,
                                                                "--memory-max", "64M", "--", "true"},
                                       within(30s, work.path()));
    };
    align_to_second();
    const time_t before = ::time(nullptr);
    // Three at once (they used to race for one directory), then one more right after them.
    std::map<std::string, std::unique_ptr<Child>> together;
    for (const char* name : {"first", "second", "third"}) together.emplace(name, start(name));
    std::map<std::string, Outcome> outcomes;
    for (auto& [name, child] : together) outcomes.emplace(name, child->wait());
    outcomes.emplace("fourth", start("fourth")->wait());
    const time_t after = ::time(nullptr);

    const std::regex name_re("([0-9]{8}T[0-9]{6}Z)(-[0-9]+)?");
    const std::regex summary_re("report: corral-reports/([^/\\s]+)/report\\.json");
    std::set<std::string> dirs;
    for (const auto& [name, o] : outcomes) {
        INFO("run " << name << ": " << o.describe());
        CHECK(o.exit_code == 0);
        // The summary names the directory; it holds this run's report.
        std::smatch m;
        REQUIRE(std::regex_search(o.err, m, summary_re));
        const std::string dir = m[1];
        INFO("report directory corral-reports/" << dir);
        dirs.insert(dir);
        std::smatch stamp;
        REQUIRE(std::regex_match(dir, stamp, name_re));
        CHECK(utc_stamp(stamp[1]) >= before);
        CHECK(utc_stamp(stamp[1]) <= after);
        const Json report = load_report(work.path() + "/corral-reports/" + dir);
        REQUIRE(field(report, "/suites").size() == 1);
        CHECK(str(report, "/suites/0/name") == name);
    }
    std::vector<std::string> listed;
    for (const auto& e : fs::directory_iterator(work.path() + "/corral-reports"))
        listed.push_back(e.path().filename());
    INFO("corral-reports/ holds: " << join(listed));
    CHECK(dirs.size() == 4);
    CHECK(listed.size() == 4);
    hc.finish();
}
