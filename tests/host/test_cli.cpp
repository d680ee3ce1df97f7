// Host tier: the command line as a user meets it — exit statuses, namespaces, parallel suites,
// a read-only cgroupfs, `corral check` and the bundled example profile.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <sstream>

#include "harness.hpp"

using namespace host;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

// A line of corral's own stdout that carries the suite's line, prefixed by the suite's name.
bool prefixed_line(const std::string& out, const std::string& suite_name, const std::string& text) {
    for (const auto& l : lines_of(out)) {
        auto at = l.find(text);
        if (at != std::string::npos && l.substr(0, at).find(suite_name) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("the suite sees its own cgroup namespace", "[host][namespace]") {
    HostCase hc;
    TempDir reports("cgns");
    auto r = run_corral(adhoc(reports.path(), {"--name", "cgns", "--memory-max", "64M", "--tasks-max", "64"},
                              {"cat", "/proc/self/cgroup"}));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    const Json& s = suite(report, "cgns");
    CHECK(str(s, "/verdict") == "passed");
    const std::string out = suite_stdout(s, reports.path());
    INFO("the suite's /proc/self/cgroup:\n" << out);
    const auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    REQUIRE(mem != nullptr);
    std::vector<std::string> wanted;
    if (mem->v2)
        wanted = {"0::"};
    else
        wanted = {":memory:", ":pids:"};
    for (const auto& w : wanted) {
        INFO("line with " << w);
        auto lines = lines_of(out);
        auto it =
            std::find_if(lines.begin(), lines.end(), [&](const std::string& l) { return contains(l, w); });
        REQUIRE(it != lines.end());
        CHECK(it->size() >= 2);
        CHECK(it->substr(it->size() - 2) == ":/");
    }
    hc.finish();
}

TEST_CASE("a failing command is 'failed' with its exit code and a missing one is 'launch-error'",
          "[host][exit]") {
    HostCase hc;
    SECTION("exit 3") {
        TempDir reports("fail");
        auto r = run_corral(
            adhoc(reports.path(), {"--name", "fails", "--memory-max", "64M"}, {"sh", "-c", "exit 3"}));
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        auto report = load_report(reports.path());
        INFO(brief(report));
        const Json& s = suite(report, "fails");
        CHECK(str(s, "/verdict") == "failed");
        CHECK(num(s, "/exit_code") == 3);
        CHECK(field(s, "/signal").is_null());
    }
    SECTION("missing executable") {
        TempDir reports("missing");
        const std::string missing = "/nonexistent/corral-host-missing-program";
        auto r = run_corral(adhoc(reports.path(), {"--name", "missing", "--memory-max", "64M"}, {missing}));
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        auto report = load_report(reports.path());
        INFO(brief(report));
        const Json& s = suite(report, "missing");
        CHECK(str(s, "/verdict") == "launch-error");
        CHECK_THAT(str(s, "/explanation") + r.err, Catch::Contains(missing));
    }
    hc.finish();
}

TEST_CASE("two suites run at once under --jobs 2 with prefixed output", "[host][jobs]") {
    HostCase hc;
    TempDir work("jobs");
    // Each suite waits for the other's file: both pass only if they run at the same time.
    auto rendezvous = [&](const std::string& me, const std::string& peer) {
        return "    command: |\n"
               "      touch " +
               work.file(me + ".ready") +
               "\n"
               "      i=0\n"
               "      while [ ! -e " +
               work.file(peer + ".ready") +
               " ]; do\n"
               "        i=$((i+1)); [ $i -gt 200 ] && { echo gave up; exit 1; }\n"
               "        sleep 0.05\n"
               "      done\n"
               "      echo saw peer " +
               peer + "\n";
    };
    const std::string profile = work.file("two.yaml");
    write_text(profile,
               "defaults:\n"
               "  memory:\n"
               "    max: 128M\n"
               "  timeout: 30s\n"
               "suites:\n"
               "  - name: alpha\n" +
                   rendezvous("alpha", "beta") + "  - name: beta\n" + rendezvous("beta", "alpha"));
    TempDir reports("jobs-reports");
    auto r = run_corral({"run", "--report-dir", reports.path(), "--jobs", "2", profile}, within(40s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    for (const char* name : {"alpha", "beta"}) {
        const Json& s = suite(report, name);
        INFO("suite " << name);
        CHECK(str(s, "/verdict") == "passed");
        CHECK_THAT(suite_stdout(s, reports.path()), Catch::Contains("saw peer"));
        CHECK(prefixed_line(r.out, name, "saw peer"));
    }
    hc.finish();
}

// Many short suites finishing close together: fd numbers are reused between suites all the time,
// which once made one suite's pidfd vanish from the event loop and corral wait forever.
TEST_CASE("forty short suites that close their output early all finish under --jobs 4", "[host][jobs]") {
    HostCase hc;
    TempDir work("many");
    std::string yaml = "defaults:\n  memory:\n    max: 64M\n  timeout: 30s\nsuites:\n";
    for (int i = 0; i < 40; ++i)
        // Output closed early, exit a little later at staggered times: one suite's closed pipe
        // numbers get reused by the next suite while the first is still running.
        yaml += "  - name: s" + std::to_string(i) + "\n    command: [sh, -c, 'echo line " + std::to_string(i) +
                "; exec >&- 2>&-; sleep 0.0" + std::to_string(i % 7) + "']\n";
    const std::string profile = work.file("many.yaml");
    write_text(profile, yaml);
    TempDir reports("many-reports");
    auto r = run_corral({"run", "--report-dir", reports.path(), "--jobs", "4", profile}, within(60s));
    INFO(r.describe());
    CHECK_FALSE(r.hung);
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    REQUIRE(field(report, "/suites").size() == 40);
    for (const auto& s : field(report, "/suites")) CHECK(s.value("verdict", std::string()) == "passed");
    hc.finish();
}

TEST_CASE("a read-only cgroupfs is an error naming the file or an unboxed run when allowed",
          "[host][readonly]") {
    HostCase hc;
    const auto hs = own_hierarchies();
    const Hierarchy* mem = memory_hierarchy(hs);
    REQUIRE(mem != nullptr);
    const std::string mount = mem->mount;
    auto in_read_only_ns = [&](const std::vector<std::string>& corral_args) {
        std::vector<std::string> argv{
            "unshare",
            "--mount",
            "sh",
            "-c",
            "mount --make-rprivate / && mount -o remount,bind,ro \"$0\" && exec \"$@\"",
            mount,
            corral_bin()};
        argv.insert(argv.end(), corral_args.begin(), corral_args.end());
        return run(argv, within(30s));
    };
    {
        TempDir reports("ro");
        auto r = in_read_only_ns(adhoc(reports.path(), {"--name", "ro", "--memory-max", "64M"}, {"true"}));
        INFO(r.describe());
        CHECK(r.exit_code == 3);
        CHECK_THAT(r.err, Catch::Contains(mount));
        CHECK_THAT(lower(r.err), Catch::Contains("read-only"));
        const bool suggests = contains(r.err, "--allow-unboxed") || contains(lower(r.err), "remount");
        CHECK(suggests);
    }
    {
        TempDir reports("ro-unboxed");
        auto r = in_read_only_ns(
            adhoc(reports.path(), {"--allow-unboxed", "--name", "unboxed", "--memory-max", "64M"}, {"true"}));
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        auto report = load_report(reports.path());
        INFO(brief(report));
        const Json& s = suite(report, "unboxed");
        CHECK(str(s, "/verdict") == "passed");
        CHECK_THAT(lower(notes_of(report, s)), Catch::Contains("not enforced"));
    }
    hc.finish();
}

TEST_CASE("an unprivileged user's suite runs without a cgroup namespace, and the report says so",
          "[host][unprivileged]") {
    HostCase hc;
    {
        TempDir reports("root-ns");
        auto r = run_corral(adhoc(reports.path(), {"--name", "root"}, {"true"}));
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        auto report = load_report(reports.path());
        CHECK(field(suite(report, "root"), "/cgroup_namespace") == true);
    }
    // unshare(CLONE_NEWCGROUP) needs CAP_SYS_ADMIN: without it corral starts the suite anyway
    // (nobody cannot create cgroups here either, hence --allow-unboxed).
    TempDir reports("nobody");
    std::filesystem::permissions(reports.path(), std::filesystem::perms::all);
    std::vector<std::string> argv{"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", corral_bin()};
    auto corral = adhoc(reports.path(), {"--allow-unboxed", "--oom-source", "none", "--name", "nobody"},
                        {"sh", "-c", "cat /proc/self/cgroup"});
    argv.insert(argv.end(), corral.begin(), corral.end());
    auto r = run(argv, within(30s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "nobody");
    CHECK(str(s, "/verdict") == "passed");
    CHECK(field(s, "/cgroup_namespace") == false);
    CHECK_THAT(notes_of(report, s), Catch::Contains("no cgroup namespace: creating one needs CAP_SYS_ADMIN"));
    CHECK_THAT(notes_of(report, s), Catch::Contains("uid 65534"));
    hc.finish();
}

TEST_CASE("corral check prints the example's suites and a bad profile is exit 2 with file:line:col",
          "[host][check]") {
    HostCase hc;
    SECTION("the bundled example") {
        auto r = run_corral({"check", source_dir() + "/profiles/example.yaml"});
        INFO(r.describe());
        CHECK(r.exit_code == 0);
        const std::string all = r.out + r.err;
        // Each suite's own heading line, "NAME (FILE:LINE:COL)": the names also occur in the commands.
        for (const char* name : {"unit", "oom", "hang"})
            CHECK(std::regex_search(r.out, std::regex(std::string("(^|\n)") + name + R"( \(.*example\.yaml:\d+:\d+\)\n)")));
        const bool shows_64m = contains(all, "64 MiB") || contains(all, "64M") || contains(all, "67108864");
        CHECK(shows_64m);
    }
    SECTION("a misspelt key") {
        TempDir work("bad");
        const std::string profile = work.file("bad.yaml");
        write_text(profile,
                   "name: bad\n"
                   "command: [\"true\"]\n"
                   "memroy:\n"
                   "  max: 64M\n");
        auto r = run_corral({"check", profile});
        INFO(r.describe());
        CHECK(r.exit_code == 2);
        CHECK(std::regex_search(r.err, std::regex(R"(bad\.yaml:3:\d+)")));
        CHECK_THAT(r.err, Catch::Contains("unknown key 'memroy' (did you mean 'memory'?)"));
    }
    SECTION("a bad size") {
        TempDir work("bad-size");
        const std::string profile = work.file("bad-size.yaml");
        write_text(profile,
                   "name: bad\n"
                   "command: [\"true\"]\n"
                   "memory:\n"
                   "  max: 64Q\n");
        auto r = run_corral({"check", profile});
        INFO(r.describe());
        CHECK(r.exit_code == 2);
        CHECK(std::regex_search(r.err, std::regex(R"(bad-size\.yaml:4:\d+)")));
    }
    SECTION("a CPU quota the kernel would refuse") {
        TempDir work("bad-cpu");
        const std::string profile = work.file("bad-cpu.yaml");
        write_text(profile,
                   "name: bad\n"
                   "command: [\"true\"]\n"
                   "cpu: {quota: \"1e20%\"}\n");
        auto r = run_corral({"check", profile});
        INFO(r.describe());
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Catch::Contains("bad-cpu.yaml:3:14: cpu.quota: 1e+20% is above the kernel's largest quota"));
        auto adhoc = run_corral({"run", "--cpu", "0.0001%", "--", "true"});
        INFO(adhoc.describe());
        CHECK(adhoc.exit_code == 2);
        CHECK_THAT(adhoc.err, Catch::Contains("--cpu '0.0001%': 0.0001% is below the kernel's smallest quota, 1%"));
    }
    hc.finish();
}

TEST_CASE("the example profile gives passed / oom-killed / timeout", "[host][example]") {
    HostCase hc;
    hc.watch("corral-demo-hang");
    TempDir work("example");
    const std::string profile = example_profile(work);
    TempDir reports("example-reports");
    auto r = run_corral({"run", "--report-dir", reports.path(), profile}, within(45s, source_dir()));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    CHECK(str(suite(report, "unit"), "/verdict") == "passed");
    CHECK(str(suite(report, "oom"), "/verdict") == "oom-killed");
    CHECK(str(suite(report, "hang"), "/verdict") == "timeout");
    hc.finish();
}
