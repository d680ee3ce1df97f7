#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "corral/profile/profile.hpp"

using namespace corral;
using namespace std::chrono_literals;

namespace {

const std::string kFixtures = std::string(CORRAL_FIXTURES_DIR) + "/profiles";

// The ProfileError that parsing `yaml` throws; fails the test when there is none.
ProfileError profile_error(const std::string& yaml, const std::string& file = "p.yaml") {
    try {
        parse_profile(yaml, file);
    } catch (const ProfileError& e) {
        return e;
    }
    FAIL("parse_profile accepted:\n" << yaml);
    throw std::logic_error("unreachable");
}

SuiteSpec one_suite(const std::string& yaml, const std::string& file = "/srv/profiles/p.yaml") {
    auto suites = parse_profile(yaml, file);
    REQUIRE(suites.size() == 1);
    return suites[0];
}

struct ErrorCase {
    std::string yaml;
    int line;
    int column;
    std::string key;
    std::string message_part;
};

void check_error(const ErrorCase& c, const std::string& file = "p.yaml") {
    CAPTURE(c.yaml);
    ProfileError e = profile_error(c.yaml, file);
    CHECK(e.loc().file == file);
    CHECK(e.loc().line == c.line);
    CHECK(e.loc().column == c.column);
    CHECK(e.key() == c.key);
    CHECK_THAT(e.message(), Catch::Contains(c.message_part));
    std::string prefix = file + ":" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": ";
    if (!c.key.empty()) prefix += c.key + ": ";
    CHECK(std::string(e.what()) == prefix + e.message());
}

}  // namespace

TEST_CASE("SourceLoc::str and backend_choice_name", "[profile]") {
    CHECK(SourceLoc{"a.yaml", 3, 5}.str() == "a.yaml:3:5");
    CHECK(SourceLoc{"a.yaml", 0, 0}.str() == "a.yaml");
    CHECK(backend_choice_name(BackendChoice::Auto) == "auto");
    CHECK(backend_choice_name(BackendChoice::Cgroup) == "cgroup");
    CHECK(backend_choice_name(BackendChoice::SystemdScope) == "systemd-scope");
}

TEST_CASE("ProfileError reads FILE:LINE:COL: KEY: MESSAGE", "[profile]") {
    ProfileError e(SourceLoc{"a.yaml", 3, 5}, "memory.max", "expected a size");
    CHECK(std::string(e.what()) == "a.yaml:3:5: memory.max: expected a size");
    CHECK(e.key() == "memory.max");
    CHECK(e.message() == "expected a size");
    CHECK(e.loc().line == 3);
    const UsageError& as_usage = e;  // exit status 2 like any usage error
    CHECK(std::string(as_usage.what()) == e.what());
}

TEST_CASE("suggest_key finds the nearest key within distance 2", "[profile]") {
    struct Case {
        std::string key;
        std::vector<std::string> known;
        std::string expected;
    };
    const std::vector<std::string> suite_keys = {"name",    "command",    "workdir",         "env",
                                                 "memory",  "tasks_max",  "timeout",         "kill_grace",
                                                 "backend", "on_timeout", "sample_interval", "env_clear"};
    auto c = GENERATE_REF(values<Case>({
        {"memroy", suite_keys, "memory"},
        {"timout", suite_keys, "timeout"},
        {"tiemout", suite_keys, "timeout"},
        {"commnad", suite_keys, "command"},
        {"Name", suite_keys, "name"},
        {"task_max", suite_keys, "tasks_max"},
        {"backends", suite_keys, "backend"},
        {"xyz", suite_keys, ""},
        {"memoryyyy", suite_keys, ""},
        {"hgh", {"high", "huge"}, "high"},
        {"a", {"b"}, ""},  // distance must be below the key's length
        {"ab", {"b"}, "b"},
        {"", {"a"}, ""},
        {"name", {"name"}, "name"},
        {"x", {}, ""},
    }));
    CAPTURE(c.key);
    CHECK(suggest_key(c.key, c.known) == c.expected);
}

TEST_CASE("a single-suite profile sets every field", "[profile]") {
    SuiteSpec s = one_suite(R"(name: api
command: [pytest, -x, tests/api]
workdir: /srv/api
env:
  LANG: C.UTF-8
  WORKERS: 4
  DEBUG: true
env_clear: yes
memory:
  max: 2G
  high: 1.5G
  swap_max: 0
  oom_group: true
tasks_max: 512
cpu:
  quota: 150%
timeout: 1h30m
kill_grace: 5s
sample_interval: 250ms
backend: systemd-scope
on_timeout:
  command: [gdb, -batch, -p, "1"]
  timeout: 30s
)");
    CHECK(s.name == "api");
    CHECK(s.argv == std::vector<std::string>{"pytest", "-x", "tests/api"});
    CHECK(s.command_text == "pytest -x tests/api");
    CHECK(s.workdir == "/srv/api");
    CHECK(s.env ==
          std::map<std::string, std::string>{{"LANG", "C.UTF-8"}, {"WORKERS", "4"}, {"DEBUG", "true"}});
    CHECK(s.env_clear);
    CHECK(s.limits.memory_max == 2ull << 30);
    CHECK(s.limits.memory_high == 3ull << 29);
    CHECK(s.limits.swap_max == 0u);
    CHECK(s.limits.oom_group);
    CHECK(s.limits.tasks_max == 512u);
    CHECK(s.limits.cpu_quota_percent == 150.0);
    CHECK(s.timeout == Duration(90min));
    CHECK(s.kill_grace == 5s);
    CHECK(s.sample_interval == 250ms);
    CHECK(s.backend == BackendChoice::SystemdScope);
    CHECK(s.on_timeout == std::vector<std::string>{"gdb", "-batch", "-p", "1"});
    CHECK(s.on_timeout_limit == 30s);
    CHECK(s.where.str() == "/srv/profiles/p.yaml:1:1");
}

TEST_CASE("absent keys keep their defaults", "[profile]") {
    SuiteSpec s = one_suite("name: tiny\ncommand: make check\n");
    CHECK(s.argv == std::vector<std::string>{"/bin/sh", "-c", "make check"});
    CHECK(s.command_text == "make check");
    CHECK_FALSE(s.workdir);
    CHECK(s.env.empty());
    CHECK_FALSE(s.env_clear);
    CHECK_FALSE(s.limits.memory_max);
    CHECK_FALSE(s.limits.memory_high);
    CHECK_FALSE(s.limits.swap_max);
    CHECK_FALSE(s.limits.tasks_max);
    CHECK_FALSE(s.limits.cpu_quota_percent);
    CHECK_FALSE(s.limits.oom_group);
    CHECK_FALSE(s.timeout);
    CHECK(s.kill_grace == 10s);
    CHECK(s.sample_interval == 100ms);
    CHECK(s.backend == BackendChoice::Auto);
    CHECK(s.on_timeout.empty());
    CHECK(s.on_timeout_limit == 10s);
}

TEST_CASE("accepted value forms", "[profile]") {
    SECTION("command lists are quoted for display") {
        SuiteSpec s = one_suite("name: q\ncommand: [echo, 'hello world', \"it's\", '', a=b]\n");
        CHECK(s.argv == std::vector<std::string>{"echo", "hello world", "it's", "", "a=b"});
        CHECK(s.command_text == R"(echo 'hello world' 'it'\''s' '' a=b)");
    }
    SECTION("a multi-line string command runs through the shell as written") {
        SuiteSpec s = one_suite("name: q\ncommand: |\n  cd web\n  make test\n");
        CHECK(s.argv == std::vector<std::string>{"/bin/sh", "-c", "cd web\nmake test\n"});
    }
    SECTION("timeout: infinity means no timeout") {
        CHECK_FALSE(one_suite("name: q\ncommand: x\ntimeout: infinity\n").timeout);
        CHECK_FALSE(one_suite("name: q\ncommand: x\ntimeout: Infinity\n").timeout);
    }
    SECTION("sizes: YAML integers are bytes, infinity is no limit") {
        SuiteSpec s =
            one_suite("name: q\ncommand: x\nmemory: {max: 1073741824, high: infinity, swap_max: max}\n");
        CHECK(s.limits.memory_max == 1u << 30);
        CHECK(s.limits.memory_high == kInfinity);  // no throttling: not "above" memory.max
        CHECK(s.limits.swap_max == kInfinity);
    }
    SECTION("memory.high equal to memory.max") {
        SuiteSpec s = one_suite("name: q\ncommand: x\nmemory: {max: 1G, high: 1024M}\n");
        CHECK(s.limits.memory_high == s.limits.memory_max);
    }
    SECTION("fractional cpu quota") {
        CHECK(one_suite("name: q\ncommand: x\ncpu: {quota: 12.5%}\n").limits.cpu_quota_percent == 12.5);
    }
    SECTION("on_timeout as a plain list keeps the default limit") {
        SuiteSpec s = one_suite("name: q\ncommand: x\non_timeout: [pkill, -USR1, app]\n");
        CHECK(s.on_timeout == std::vector<std::string>{"pkill", "-USR1", "app"});
        CHECK(s.on_timeout_limit == 10s);
    }
    SECTION("on_timeout map without timeout keeps the default limit") {
        CHECK(one_suite("name: q\ncommand: x\non_timeout: {command: [a]}\n").on_timeout_limit == 10s);
    }
    SECTION("stall_timeout: a duration, or infinity for none") {
        CHECK(one_suite("name: q\ncommand: x\nstall_timeout: 2s\n").stall_timeout == 2s);
        CHECK_FALSE(one_suite("name: q\ncommand: x\nstall_timeout: infinity\n").stall_timeout);
        CHECK_FALSE(one_suite("name: q\ncommand: x\n").stall_timeout);
    }
    SECTION("sample_interval at its minimum, kill_grace of zero") {
        SuiteSpec s = one_suite("name: q\ncommand: x\nsample_interval: 10ms\nkill_grace: 0s\n");
        CHECK(s.sample_interval == 10ms);
        CHECK(s.kill_grace == 0s);
    }
    SECTION("every backend name") {
        auto [text, choice] =
            GENERATE(std::pair{"auto", BackendChoice::Auto}, std::pair{"cgroup", BackendChoice::Cgroup},
                     std::pair{"systemd-scope", BackendChoice::SystemdScope});
        CHECK(one_suite(std::string("name: q\ncommand: x\nbackend: ") + text + "\n").backend == choice);
    }
    SECTION("names with every allowed character class, up to 64 characters") {
        CHECK(one_suite("name: Web_2.e2e-fast\ncommand: x\n").name == "Web_2.e2e-fast");
        CHECK(one_suite("name: " + std::string(64, 'a') + "\ncommand: x\n").name.size() == 64);
    }
}

TEST_CASE("a single-suite file without a name takes the file's basename", "[profile]") {
    auto file = GENERATE(std::pair{"/x/y/api-tests.yaml", "api-tests"},
                         std::pair{"suite.prod.yml", "suite.prod"}, std::pair{"plain", "plain"});
    CHECK(one_suite("command: x\n", file.first).name == file.second);
}

TEST_CASE("relative workdirs resolve against the profile's directory", "[profile]") {
    const std::string cwd = std::filesystem::current_path().string();
    auto c = GENERATE_COPY(values<std::vector<std::string>>({
        {"/srv/profiles/p.yaml", "work", "/srv/profiles/work"},
        {"/srv/profiles/p.yaml", "../w/./x", "/srv/w/x"},
        {"/srv/profiles/p.yaml", "/abs/dir", "/abs/dir"},
        {"/srv/profiles/p.yaml", ".", "/srv/profiles"},
        {"/srv/profiles/p.yaml", "sub/", "/srv/profiles/sub"},
        {"p.yaml", "work", cwd + "/work"},
    }));
    CAPTURE(c[0], c[1]);
    CHECK(one_suite("command: x\nworkdir: " + c[1] + "\n", c[0]).workdir == c[2]);
}

TEST_CASE("defaults merge into each suite, the suite's keys winning", "[profile]") {
    auto suites = parse_profile(R"(defaults:
  memory: {max: 2G, high: 1G, oom_group: true}
  env: {LANG: C, MODE: ci}
  timeout: 30m
  on_timeout: [dump-state]
  backend: cgroup
suites:
  - name: a
    command: x
  - name: b
    command: [y]
    memory: {high: 1536M}
    env: {MODE: local, EXTRA: "1"}
    timeout: infinity
    on_timeout: {command: [other], timeout: 2s}
)",
                                "multi.yaml");
    REQUIRE(suites.size() == 2);
    const SuiteSpec& a = suites[0];
    const SuiteSpec& b = suites[1];
    CHECK(a.name == "a");
    CHECK(a.limits.memory_max == 2ull << 30);
    CHECK(a.limits.memory_high == 1ull << 30);
    CHECK(a.limits.oom_group);
    CHECK(a.env == std::map<std::string, std::string>{{"LANG", "C"}, {"MODE", "ci"}});
    CHECK(a.timeout == Duration(30min));
    CHECK(a.on_timeout == std::vector<std::string>{"dump-state"});
    CHECK(a.backend == BackendChoice::Cgroup);
    CHECK(a.where.str() == "multi.yaml:8:5");

    CHECK(b.name == "b");
    CHECK(b.limits.memory_max == 2ull << 30);      // from defaults
    CHECK(b.limits.memory_high == 1536ull << 20);  // the suite's own
    CHECK(b.limits.oom_group);
    CHECK(b.env == std::map<std::string, std::string>{{"LANG", "C"}, {"MODE", "local"}, {"EXTRA", "1"}});
    CHECK_FALSE(b.timeout);
    CHECK(b.on_timeout == std::vector<std::string>{"other"});
    CHECK(b.on_timeout_limit == 2s);
    CHECK(b.backend == BackendChoice::Cgroup);
    CHECK(b.where.str() == "multi.yaml:10:5");
}

TEST_CASE("a multi-suite file without defaults", "[profile]") {
    auto suites = parse_profile("suites:\n  - {name: a, command: x}\n  - {name: b, command: y}\n", "m.yaml");
    REQUIRE(suites.size() == 2);
    CHECK(suites[0].name == "a");
    CHECK(suites[1].argv == std::vector<std::string>{"/bin/sh", "-c", "y"});
}

TEST_CASE("bad profiles are located errors naming the key, the expectation and what was found", "[profile]") {
    const std::string long_name(65, 'n');
    auto c = GENERATE_COPY(values<ErrorCase>({
        // unknown keys, with suggestions
        {"memroy: {max: 1G}\ncommand: x\n", 1, 1, "memroy", "unknown key 'memroy' (did you mean 'memory'?)"},
        {"command: x\nzzzzzz: 1\n", 2, 1, "zzzzzz", "unknown key 'zzzzzz' (expected one of: name, command, "},
        {"command: x\nmemory:\n  maks: 1G\n", 3, 3, "memory.maks",
         "unknown key 'maks' (did you mean 'max'?)"},
        {"command: x\ncpu: {qouta: 50%}\n", 2, 7, "cpu.qouta", "(did you mean 'quota'?)"},
        {"command: x\ncommand: y\n", 2, 1, "command", "duplicate key 'command' (first at p.yaml:1:1)"},
        // wrong types
        {"command: x\nmemory:\n  max: {a: 1}\n", 3, 8, "memory.max", "expected a size, found a map"},
        {"command: x\nmemory: 1G\n", 2, 9, "memory",
         "expected a map of max, high, swap_max, oom_group, found '1G'"},
        {"command: x\ncpu: [50%]\n", 2, 6, "cpu", "expected a map of quota, found a list"},
        {"command: x\ntasks_max: many\n", 2, 12, "tasks_max", "expected a positive integer, found 'many'"},
        {"command: x\ntasks_max: -3\n", 2, 12, "tasks_max", "expected a positive integer, found '-3'"},
        {"command: x\ntasks_max: 1.5\n", 2, 12, "tasks_max", "expected a positive integer, found '1.5'"},
        {"command: x\ntasks_max: [1]\n", 2, 12, "tasks_max", "expected a positive integer, found a list"},
        {"command: x\nenv_clear: maybe\n", 2, 12, "env_clear", "expected true or false, found 'maybe'"},
        {"command: x\nmemory: {oom_group: 2}\n", 2, 21, "memory.oom_group",
         "expected true or false, found '2'"},
        {"command: x\nname: [a]\n", 2, 7, "name", "expected a suite name, found a list"},
        {"command: x\nworkdir: {a: 1}\n", 2, 10, "workdir", "expected a directory, found a map"},
        {"command: x\ntimeout:\nname: a\n", 2, 1, "timeout", "expected a duration, found nothing"},
        // bad units
        {"command: x\nmemory: {max: 512X}\n", 2, 15, "memory.max",
         "unknown unit 'X': expected a size such as 512M, 2G or infinity, found '512X'"},
        {"command: x\nmemory: {swap_max: lots}\n", 2, 20, "memory.swap_max", "expected a size such as"},
        {"command: x\nmemory: {high: -1G}\n", 2, 16, "memory.high", "cannot be negative"},
        {"command: x\ntimeout: 5 minutes\n", 2, 10, "timeout", "unknown unit 'minutes'"},
        {"command: x\ntimeout: 30\n", 2, 10, "timeout", "missing unit: add a unit, e.g. 30s, found '30'"},
        {"command: x\nkill_grace: soon\n", 2, 13, "kill_grace",
         "expected a duration such as 250ms, 90s or 1h30m"},
        {"command: x\nsample_interval: 0\n", 2, 18, "sample_interval", "add a unit, e.g. 0s"},
        {"command: x\nstall_timeout: soon\n", 2, 16, "stall_timeout",
         "expected a duration such as 250ms, 90s or 1h30m, found 'soon'"},
        {"command: x\nstall_timeout: 0s\n", 2, 16, "stall_timeout",
         "must be at least 1s (use infinity for none), found 0s"},
        {"command: x\nsample_interval: 1s\nstall_timeout: 1500ms\n", 3, 16, "stall_timeout",
         "must be at least twice the sample_interval of 1s"},
        {"command: x\nstall_timeout: [5m]\n", 2, 16, "stall_timeout", "expected a duration, found a list"},
        {"command: x\nstal_timeout: 5m\n", 2, 1, "stal_timeout", "(did you mean 'stall_timeout'?)"},
        {"command: x\ncpu:\n  quota: 150\n", 3, 10, "cpu.quota",
         "expected a percentage such as 150% (1.5 CPUs), found '150'"},
        {"command: x\ncpu:\n  quota: lots%\n", 3, 10, "cpu.quota", "expected a percentage such as 150%"},
        {"command: x\ncpu:\n  quota: inf%\n", 3, 10, "cpu.quota", "expected a percentage such as 150%"},
        // zero or negative where it makes no sense
        {"command: x\ntasks_max: 0\n", 2, 12, "tasks_max", "expected a positive integer, found 0"},
        {"command: x\nmemory:\n  max: 0\n", 3, 8, "memory.max",
         "must be greater than 0 (use infinity for no limit)"},
        {"command: x\nmemory:\n  high: 0K\n", 3, 9, "memory.high", "must be greater than 0"},
        {"command: x\ncpu:\n  quota: 0%\n", 3, 10, "cpu.quota",
         "expected a percentage above 0% such as 150%, found 0%"},
        {"command: x\ncpu:\n  quota: -50%\n", 3, 10, "cpu.quota", "found -50%"},
        // outside what the kernel takes: refused, not clamped or overflowed into another quota
        {"command: x\ncpu:\n  quota: 1e20%\n", 3, 10, "cpu.quota",
         "1e+20% is above the kernel's largest quota, 17592186044%"},
        {"command: x\ncpu:\n  quota: 0.0001%\n", 3, 10, "cpu.quota", "0.0001% is below the kernel's smallest quota, 1%"},
        {"command: x\ntimeout: 0s\n", 2, 10, "timeout",
         "must be greater than 0 (use infinity for no limit), found 0s"},
        {"command: x\nsample_interval: 0ms\n", 2, 18, "sample_interval", "must be at least 10ms, found 0s"},
        {"command: x\nsample_interval: 5ms\n", 2, 18, "sample_interval", "must be at least 10ms, found 5ms"},
        // memory.high above memory.max
        {"command: x\nmemory:\n  max: 1G\n  high: 2G\n", 4, 9, "memory.high",
         "2 GiB is above memory.max (1 GiB)"},
        // empty command
        {"name: a\ncommand: ''\n", 2, 10, "command",
         "empty command: expected a command line, found an empty string"},
        {"name: a\ncommand: \"  \"\n", 2, 10, "command", "empty command"},
        {"name: a\ncommand: []\n", 2, 10, "command", "empty command: expected at least one argument"},
        {"name: a\ncommand: ['', x]\n", 2, 11, "command[0]",
         "empty command: the program name is an empty string"},
        {"name: a\n", 1, 1, "command", "missing key 'command'"},
        {"name: a\ncommand:\n", 2, 1, "command", "found nothing"},
        {"command: {a: b}\n", 1, 10, "command",
         "expected a string (run by /bin/sh -c) or a list of arguments, found a map"},
        {"command: [a, [b]]\n", 1, 14, "command[1]", "expected a string, found a list"},
        // names
        {"name: my suite\ncommand: x\n", 1, 7, "name",
         "expected a name of 1 to 64 letters, digits, '.', '_' or '-', found 'my suite'"},
        {"name: a/b\ncommand: x\n", 1, 7, "name", "found 'a/b'"},
        {"name: ..\ncommand: x\n", 1, 7, "name", "found '..'"},
        {"name: ''\ncommand: x\n", 1, 7, "name", "found ''"},
        {"name: " + long_name + "\ncommand: x\n", 1, 7, "name", "found '" + long_name + "'"},
        // backend
        {"command: x\nbackend: cgrup\n", 2, 10, "backend",
         "unknown backend 'cgrup' (did you mean 'cgroup'?)"},
        {"command: x\nbackend: docker\n", 2, 10, "backend",
         "unknown backend 'docker' (expected one of: auto, cgroup, systemd-scope)"},
        // file shape
        {"", 1, 1, "", "the profile is empty"},
        {"# nothing but a comment\n", 1, 1, "", "the profile is empty"},
        {"- a\n- b\n", 1, 1, "",
         "expected a map of suite settings or 'suites:' at the top level, found a list"},
        {"hello\n", 1, 1, "", "found 'hello'"},
        {"command: x\n---\ncommand: y\n", 3, 1, "", "expected one YAML document, found 2"},
        {"? [a]\n: 1\ncommand: x\n", 1, 3, "", "expected a key name, found a list"},
        // suites and defaults
        {"suites: {a: 1}\n", 1, 9, "suites", "expected a list of suites, found a map"},
        {"suites: []\n", 1, 9, "suites", "expected at least one suite, found an empty list"},
        {"suites:\n  - echo hi\n", 2, 5, "suites[0]", "expected a map of suite settings, found 'echo hi'"},
        {"suites:\n  - {name: a, command: x}\nversoin: 1\n", 3, 1, "versoin",
         "unknown key 'versoin' (expected one of: defaults, suites)"},
        {"suites:\n  - {name: a, command: x}\ndefualts: {}\n", 3, 1, "defualts",
         "(did you mean 'defaults'?)"},
        {"timeout: 5m\nsuites:\n  - {name: a, command: x}\n", 1, 1, "timeout",
         "'timeout' is a suite setting: in a file with 'suites', put it under 'defaults' or in a suite"},
        {"defaults:\n  name: x\nsuites:\n  - {name: a, command: x}\n", 2, 3, "defaults.name",
         "'defaults' may not set 'name'"},
        {"defaults: [1]\nsuites:\n  - {name: a, command: x}\n", 1, 11, "defaults",
         "expected a map of suite settings, found a list"},
        {"defaults: {timeout: 1m}\ncommand: x\n", 1, 1, "defaults",
         "'defaults' needs a 'suites' list beside it"},
        {"defaults:\n  memory: {max: lots}\nsuites:\n  - {name: a, command: x}\n", 2, 17,
         "defaults.memory.max", "found 'lots'"},
        {"defaults:\n  timout: 1m\nsuites:\n  - {name: a, command: x}\n", 2, 3, "defaults.timout",
         "(did you mean 'timeout'?)"},
        {"suites:\n  - command: x\n", 2, 5, "suites[0].name", "missing key 'name'"},
        {"suites:\n  - name: a\n    command: x\n  - name: b\n    command: y\n    memory: {mxa: 1G}\n", 6, 14,
         "suites[1].memory.mxa", "unknown key 'mxa' (did you mean 'max'?)"},
        {"suites:\n  - name: a\n    command: x\n  - name: a\n    command: y\n", 4, 5, "suites[1].name",
         "duplicate suite name 'a' (first defined at p.yaml:2:5)"},
        {"defaults:\n  memory: {max: 1G}\nsuites:\n  - name: a\n    command: x\n    memory: {high: 2G}\n", 6,
         20, "suites[0].memory.high", "2 GiB is above memory.max (1 GiB)"},
        {"defaults:\n  memory: {high: 2G}\nsuites:\n  - name: a\n    command: x\n    memory: {max: 1G}\n", 2,
         18, "defaults.memory.high", "2 GiB is above memory.max (1 GiB)"},
        // on_timeout
        {"command: x\non_timeout: kill-it\n", 2, 13, "on_timeout",
         "expected a list of arguments or a map {command: [...], timeout: 10s}, found 'kill-it'"},
        {"command: x\non_timeout: []\n", 2, 13, "on_timeout", "empty command"},
        {"command: x\non_timeout: {timeout: 5s}\n", 2, 13, "on_timeout.command", "missing key 'command'"},
        {"command: x\non_timeout: {command: kill}\n", 2, 23, "on_timeout.command",
         "expected a list of arguments, found 'kill'"},
        {"command: x\non_timeout: {command: [a], timout: 5s}\n", 2, 28, "on_timeout.timout",
         "unknown key 'timout' (did you mean 'timeout'?)"},
        {"command: x\non_timeout: {command: [a], timeout: 0s}\n", 2, 37, "on_timeout.timeout",
         "must be greater than 0, found 0s"},
        {"command: x\non_timeout: {command: [a], timeout: 9}\n", 2, 37, "on_timeout.timeout", "add a unit"},
        // env
        {"command: x\nenv: [A=1]\n", 2, 6, "env", "expected a map of variable names to values, found a list"},
        {"command: x\nenv:\n  A: {b: 1}\n", 3, 6, "env.A", "expected a string, found a map"},
        {"command: x\nenv: {A=B: 1}\n", 2, 7, "env.A=B", "expected a variable name without '=', found 'A=B'"},
        // workdir
        {"command: x\nworkdir: ''\n", 2, 10, "workdir", "expected a directory, found an empty string"},
    }));
    check_error(c);
}

TEST_CASE("a name taken from a file name must be valid too", "[profile]") {
    check_error({"command: x\n", 1, 1, "name", "found 'my suite'"}, "my suite.yaml");
}

TEST_CASE("YAML syntax errors become ProfileErrors at the parser's mark", "[profile]") {
    ProfileError e = profile_error("command: [a, b\nname: x\n", "bad.yaml");
    CHECK(e.loc().file == "bad.yaml");
    CHECK(e.loc().line >= 1);
    CHECK(e.loc().column >= 1);
    CHECK(e.key().empty());
    CHECK_THAT(e.message(), Catch::Contains("end of sequence flow not found"));
    CHECK_THAT(std::string(e.what()), Catch::StartsWith(e.loc().str() + ": "));

    ProfileError tab = profile_error("command: x\n\tname: y\n", "tab.yaml");
    CHECK(tab.loc().line == 2);
}

TEST_CASE("load_profile reads fixture files", "[profile]") {
    SECTION("a single suite named after its file, workdir next to the file") {
        auto suites = load_profile(kFixtures + "/web-unit.yaml");
        REQUIRE(suites.size() == 1);
        const SuiteSpec& s = suites[0];
        CHECK(s.name == "web-unit");
        CHECK(s.argv == std::vector<std::string>{"make", "-C", "web", "test"});
        CHECK(s.workdir == (std::filesystem::path(CORRAL_FIXTURES_DIR) / "work").lexically_normal().string());
        CHECK(s.env == std::map<std::string, std::string>{{"CI", "1"}});
        CHECK(s.limits.memory_max == 512ull << 20);
        CHECK(s.timeout == Duration(5min));
        CHECK(s.where.str() == kFixtures + "/web-unit.yaml:2:1");
    }
    SECTION("defaults and suites") {
        auto suites = load_profile(kFixtures + "/nightly.yaml");
        REQUIRE(suites.size() == 2);
        CHECK(suites[0].name == "e2e");
        CHECK(suites[0].limits.memory_max == 2ull << 30);
        CHECK(suites[0].limits.memory_high == 1536ull << 20);
        CHECK(suites[0].env.at("LANG") == "C.UTF-8");
        CHECK(suites[1].name == "load");
        CHECK(suites[1].argv == std::vector<std::string>{"./load", "--clients", "64"});
        CHECK(suites[1].timeout == Duration(1h));
        CHECK(suites[1].limits.tasks_max == 512u);
        CHECK(suites[1].limits.oom_group);
    }
}

TEST_CASE("load_profile names the file and the errno text when it cannot read", "[profile]") {
    const std::string missing = kFixtures + "/does-not-exist.yaml";
    ProfileError e = [&] {
        try {
            load_profile(missing);
        } catch (const ProfileError& err) {
            return err;
        }
        FAIL("no error for a missing file");
        throw std::logic_error("unreachable");
    }();
    CHECK(e.loc().file == missing);
    CHECK(std::string(e.what()) == missing + ": cannot read the profile: No such file or directory");

    CHECK_THROWS_WITH(load_profile(kFixtures),
                      Catch::Contains(kFixtures) && Catch::Contains("Is a directory"));
    if (::geteuid() != 0) {  // root reads anything
        CHECK_THROWS_WITH(load_profile("/etc/shadow"), Catch::Contains("Permission denied"));
    }
}

TEST_CASE("load_profiles rejects a suite name defined in two files", "[profile]") {
    CHECK(load_profiles({kFixtures + "/nightly.yaml", kFixtures + "/web-unit.yaml"}).size() == 3);
    CHECK_THROWS_AS(load_profiles({kFixtures + "/nightly.yaml", kFixtures + "/clash.yaml"}), ProfileError);
    CHECK_THROWS_WITH(load_profiles({kFixtures + "/nightly.yaml", kFixtures + "/clash.yaml"}),
                      kFixtures + "/clash.yaml:1:1: name: duplicate suite name 'e2e' (first defined at " +
                          kFixtures + "/nightly.yaml:7:5)");
    CHECK_THROWS_WITH(load_profiles({kFixtures + "/web-unit.yaml", kFixtures + "/web-unit.yaml"}),
                      Catch::Contains("duplicate suite name 'web-unit'"));
}

TEST_CASE("validate_suite checks a suite built from the command line", "[profile]") {
    struct Case {
        std::string what;
        std::function<void(SuiteSpec&)> change;
        std::string message;  // "" = valid
    };
    auto c = GENERATE(values<Case>({
        {"valid", [](SuiteSpec&) {}, ""},
        {"high equal to max", [](SuiteSpec& s) { s.limits.memory_high = s.limits.memory_max; }, ""},
        {"swap_max zero", [](SuiteSpec& s) { s.limits.swap_max = 0; }, ""},
        {"high infinity", [](SuiteSpec& s) { s.limits.memory_high = kInfinity; }, ""},
        {"bad name", [](SuiteSpec& s) { s.name = "a b"; },
         "name: expected a name of 1 to 64 letters, digits, '.', '_' or '-', found 'a b'"},
        {"empty name", [](SuiteSpec& s) { s.name.clear(); }, "name: expected a name"},
        {"no argv", [](SuiteSpec& s) { s.argv.clear(); }, "command: empty command: there is nothing to run"},
        {"empty argv[0]", [](SuiteSpec& s) { s.argv = {""}; }, "command: empty command"},
        {"empty workdir", [](SuiteSpec& s) { s.workdir = ""; }, "workdir: expected a directory"},
        {"memory.max 0", [](SuiteSpec& s) { s.limits.memory_max = 0; }, "memory.max: must be greater than 0"},
        {"memory.high 0", [](SuiteSpec& s) { s.limits.memory_high = 0; },
         "memory.high: must be greater than 0"},
        {"high above max", [](SuiteSpec& s) { s.limits.memory_high = 3ull << 30; },
         "memory.high: 3 GiB is above memory.max (2 GiB)"},
        {"tasks_max 0", [](SuiteSpec& s) { s.limits.tasks_max = 0; },
         "tasks_max: expected a positive integer"},
        {"cpu 0", [](SuiteSpec& s) { s.limits.cpu_quota_percent = 0; },
         "cpu.quota: expected a percentage above 0%"},
        {"cpu 1e20%", [](SuiteSpec& s) { s.limits.cpu_quota_percent = 1e20; },
         "cpu.quota: 1e+20% is above the kernel's largest quota"},
        {"timeout 0", [](SuiteSpec& s) { s.timeout = Duration(0); }, "timeout: must be greater than 0"},
        {"negative grace", [](SuiteSpec& s) { s.kill_grace = -1s; },
         "kill_grace: must not be negative, found -1s"},
        {"sampling too fast", [](SuiteSpec& s) { s.sample_interval = 9ms; },
         "sample_interval: must be at least 10ms, found 9ms"},
        {"empty on_timeout program", [](SuiteSpec& s) { s.on_timeout = {""}; }, "on_timeout: empty command"},
        {"on_timeout limit 0", [](SuiteSpec& s) { s.on_timeout_limit = Duration(0); },
         "on_timeout.timeout: must be greater than 0"},
    }));
    CAPTURE(c.what);
    SuiteSpec s;
    s.name = "adhoc";
    s.argv = {"make", "test"};
    s.limits.memory_max = 2ull << 30;
    s.limits.memory_high = 1ull << 30;
    s.limits.tasks_max = 100;
    s.limits.cpu_quota_percent = 50;
    s.timeout = Duration(1min);
    s.on_timeout = {"dump"};
    c.change(s);
    if (c.message.empty()) {
        CHECK_NOTHROW(validate_suite(s));
    } else {
        CHECK_THROWS_AS(validate_suite(s), UsageError);
        CHECK_THROWS_WITH(validate_suite(s), Catch::StartsWith(c.message));
    }
}
