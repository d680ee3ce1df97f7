// Test boundaries in a suite's output. One table (kRows) says, per runner, which line starts or ends
// a test and where its name is; each row is tested on that runner's captured output in
// tests/fixtures/markers/. Cost: every line of a chatty suite comes through here, so a row's regex
// (std::regex, slow) runs only on lines that pass its literal prefilters (a prefix, a suffix, a
// substring), and the progress counter, whose only literal is '/', is matched by hand.
#include "corral/report/markers.hpp"

#include <charconv>
#include <regex>
#include <stdexcept>
#include <vector>

#include "corral/profile/marker_pattern.hpp"

namespace corral {

std::string marker_kind_name(MarkerKind k) {
    switch (k) {
        case MarkerKind::Pytest:
            return "pytest";
        case MarkerKind::Unittest:
            return "unittest";
        case MarkerKind::Ctest:
            return "ctest";
        case MarkerKind::Go:
            return "go";
        case MarkerKind::Cargo:
            return "cargo";
        case MarkerKind::Gtest:
            return "gtest";
        case MarkerKind::Counter:
            return "counter";
        case MarkerKind::Regex:
            return "regex";
    }
    return "regex";
}

struct MarkerDetector::Pattern {
    std::regex re;
};

namespace {

// Longer lines are no built-in marker; a user pattern sees their first kMaxLine bytes.
constexpr std::size_t kMaxLine = 4096;

// A runner is finer than a MarkerKind: cargo test and nextest are both "cargo", GoogleTest and Catch2
// both "gtest" (the report's marker_kind has no Catch2 of its own: it is the other C++ framework).
enum class Runner { Pytest, Unittest, Ctest, Go, CargoTest, Nextest, Gtest, Catch2, Counter };

MarkerKind kind_of(Runner r) {
    switch (r) {
        case Runner::Pytest:
            return MarkerKind::Pytest;
        case Runner::Unittest:
            return MarkerKind::Unittest;
        case Runner::Ctest:
            return MarkerKind::Ctest;
        case Runner::Go:
            return MarkerKind::Go;
        case Runner::CargoTest:
        case Runner::Nextest:
            return MarkerKind::Cargo;
        case Runner::Gtest:
        case Runner::Catch2:
            return MarkerKind::Gtest;
        case Runner::Counter:
            return MarkerKind::Counter;
    }
    return MarkerKind::Regex;
}

enum class Action {
    Start,
    End,
    SummaryBegin,  // nextest's "Summary [": the lines after it repeat tests already ended
    SummaryEnd,    // nextest's "Starting N tests across": a new run
};
enum class Input { Line, Partial, Both };  // complete lines, the unterminated rest, or both
enum class Naming {
    Group,     // the capture group `group`
    Unittest,  // "test_x (mod.Class)" (3.10) or "test_x (mod.Class.test_x)" (3.11+) -> "mod.Class.test_x"
    Running,   // the line names no test: the last Start's name
    Counter,   // "N/M", matched by hand (find_counter)
};

struct Row {
    Runner runner;
    Action action;
    Input input;
    bool decides;  // may decide the runner in auto mode (false: too loose to tell a runner by)
    // Literal prefilters on the line without its leading blanks: all must hold before the regex runs.
    std::string_view prefix, suffix, needle;
    const char* pattern;  // ECMAScript, matched against the whole line without its leading blanks
    int group;
    Naming naming;
};

// clang-format off
constexpr Row kRows[] = {
    // pytest -v: "tests/a.py::test_x " unterminated while the test runs (a whole line with -n), then
    // "tests/a.py::test_x PASSED   [ 50%]" (FAILED, ERROR, SKIPPED (reason), XFAIL (reason), XPASS;
    // "[ 1/2]" with console_output_style=count, nothing with classic).
    {Runner::Pytest, Action::Start, Input::Both, true, "", " ", "::",
     R"((\S+::\S+) )", 1, Naming::Group},
    {Runner::Pytest, Action::End, Input::Line, true, "", "", "::",
     R"((\S+::.+?) (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)(?: \(.*\))?(?: +\[ *\d+(?:%|/\d+)\])?)", 1, Naming::Group},
    // pytest-xdist -n N -v: "[gw1] [ 17%] PASSED tests/a.py::test_x "
    {Runner::Pytest, Action::End, Input::Line, true, "[gw", "", "] ",
     R"(\[gw\d+\] \[ *\d+%\] (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+::.*?) *)", 1, Naming::Group},
    // unittest -v (on stderr): "test_x (mod.Class.test_x) ... " while it runs, then "ok", "FAIL",
    // "ERROR", "skipped 'why'", "expected failure", "unexpected success". A test with a docstring
    // prints "test_x (mod.Class.test_x)" alone, then "First docstring line ... ok".
    {Runner::Unittest, Action::Start, Input::Partial, true, "", " ... ", " (",
     R"((\w+) \(([\w.]+)\) \.\.\. )", 0, Naming::Unittest},
    {Runner::Unittest, Action::End, Input::Line, true, "", "", " ... ",
     R"((\w+) \(([\w.]+)\) \.\.\. (?:ok|FAIL|ERROR|skipped.*|expected failure|unexpected success))", 0, Naming::Unittest},
    {Runner::Unittest, Action::Start, Input::Line, false, "test", ")", " (",
     R"((\w+) \(([\w.]+)\))", 0, Naming::Unittest},
    {Runner::Unittest, Action::End, Input::Line, false, "", "", " ... ",
     R"(.* \.\.\. (?:ok|FAIL|ERROR|skipped.*|expected failure|unexpected success))", 0, Naming::Running},
    // ctest: "    Start 2: area_circle", then "2/4 Test #2: area_circle ......***Failed    0.08 sec"
    {Runner::Ctest, Action::Start, Input::Line, true, "Start ", "", ": ",
     R"(Start +\d+: (.+))", 1, Naming::Group},
    {Runner::Ctest, Action::End, Input::Line, true, "", "", " Test ",
     R"(\d+/\d+ Test +#\d+: (\S+) .*)", 1, Naming::Group},
    // go test -v: "=== RUN   TestX/sub", then "    --- PASS: TestX/sub (0.00s)" (FAIL, SKIP)
    {Runner::Go, Action::Start, Input::Line, true, "=== RUN", "", "",
     R"(=== RUN +(\S+))", 1, Naming::Group},
    {Runner::Go, Action::End, Input::Line, true, "--- ", "s)", "",
     R"(--- (?:PASS|FAIL|SKIP): (\S+) \([\d.]+s\))", 1, Naming::Group},
    // cargo test: "test tests::adds ... ok" (FAILED, ignored[, reason]); with --test-threads=1
    // "test tests::adds ... " stays unterminated while the test runs. Doc tests: "test src/lib.rs - add (line 3) ... ok".
    {Runner::CargoTest, Action::Start, Input::Partial, true, "test ", " ... ", "",
     R"(test (.+) \.\.\. )", 1, Naming::Group},
    {Runner::CargoTest, Action::End, Input::Line, true, "test ", "", " ... ",
     R"(test (.+) \.\.\. (?:ok|FAILED|ignored.*))", 1, Naming::Group},
    // cargo nextest: "        PASS [   0.005s] crate-name tests::adds" (FAIL, TIMEOUT, LEAK-FAIL, SIGSEGV,
    // "TRY 2 PASS" ...); "SLOW [> 60.000s]" is a test still running; after "Summary [" the failed,
    // slow and flaky tests are listed again.
    {Runner::Nextest, Action::End, Input::Line, true, "", "", "s] ",
     R"((?:TRY \d+ )?(?!SLOW |TERMINATING |FLAKY )[A-Z][A-Z-]* \[ *\d+\.\d+s\] (.+))", 1, Naming::Group},
    {Runner::Nextest, Action::SummaryBegin, Input::Line, false, "Summary [", "", "",
     R"(Summary \[.*)", 0, Naming::Group},
    {Runner::Nextest, Action::SummaryEnd, Input::Line, false, "Starting ", "", " across ",
     R"(Starting \d+ tests? across .*)", 0, Naming::Group},
    // GoogleTest: "[ RUN      ] Suite.Name", then "[       OK ] Suite.Name (0 ms)", "[  FAILED  ] Suite.Name
    // (0 ms)" (", where GetParam() = 1" for parameterised tests), "[  SKIPPED ] ...". The summary's
    // "[  FAILED  ] 2 tests, listed below:" and its list "[  FAILED  ] Suite.Name" have no "(N ms)".
    {Runner::Gtest, Action::Start, Input::Line, true, "[ RUN      ] ", "", "",
     R"(\[ RUN      \] (.+))", 1, Naming::Group},
    {Runner::Gtest, Action::End, Input::Line, true, "[       OK ] ", " ms)", "",
     R"(\[       OK \] (\S+) \(\d+ ms\))", 1, Naming::Group},
    {Runner::Gtest, Action::End, Input::Line, true, "[  FAILED  ] ", " ms)", "",
     R"(\[  FAILED  \] ([^ ,]+)(?:, where .*)? \(\d+ ms\))", 1, Naming::Group},
    {Runner::Gtest, Action::End, Input::Line, true, "[  SKIPPED ] ", " ms)", "",
     R"(\[  SKIPPED \] (\S+) \(\d+ ms\))", 1, Naming::Group},
    // Catch2 prints nothing per test by default; with `-d yes` (durations) "0.123 s: test name" after each
    // test case and after each section.
    {Runner::Catch2, Action::End, Input::Line, true, "", "", " s: ",
     R"(\d+\.\d+ s: (.+))", 1, Naming::Group},
    // Progress counters: "⠇ 1040/1166  🎉 ...", "835/1166 mutations tested": the first N/M token (N <= M,
    // M > 1, delimited by blanks or brackets; not a date such as 2024/05/01 nor ctest's "1/3 Test #1")
    // whose N rose since the last one. The first value of a series only arms it: a runner is decided
    // on a counter when it rises. Matched by hand (find_counter); the pattern says what it takes.
    {Runner::Counter, Action::End, Input::Both, true, "", "", "/",
     R"(N/M)", 0, Naming::Counter},
};
// clang-format on

struct Compiled {
    const Row* row;
    std::regex re;
};

const std::vector<Compiled>& table() {
    static const std::vector<Compiled> compiled = [] {
        std::vector<Compiled> out;
        for (const Row& r : kRows)
            out.push_back({&r, r.naming == Naming::Counter ? std::regex()
                                                           : std::regex(r.pattern, std::regex::optimize)});
        return out;
    }();
    return compiled;
}

bool blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_left(std::string_view t) {
    while (!t.empty() && blank(t.front())) t.remove_prefix(1);
    return t;
}

// What a terminal shows of a line: the text after its last '\r' (a redrawn progress line), without
// ANSI escape sequences (colours: CSI "ESC [ params final"). Uses `scratch` only when it must copy.
std::string_view visible(std::string_view line, std::string& scratch) {
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto cr = line.rfind('\r'); cr != std::string_view::npos) line.remove_prefix(cr + 1);
    if (line.find('\x1b') == std::string_view::npos) return line;
    scratch.clear();
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '\x1b') {
            scratch += line[i];
            continue;
        }
        if (i + 1 < line.size() && line[i + 1] == '[') {
            i += 2;
            while (i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e)) ++i;  // up to the final byte
        } else {
            ++i;  // a two-byte escape
        }
    }
    return scratch;
}

bool prefilter(const Row& r, std::string_view t) {
    return t.starts_with(r.prefix) && t.ends_with(r.suffix) &&
           (r.needle.empty() || t.find(r.needle) != std::string_view::npos);
}

std::string unittest_name(std::string_view method, std::string_view where) {
    // 3.11+: "test_x (mod.Class.test_x)"; up to 3.10: "test_x (mod.Class)"
    if (where.size() > method.size() && where.ends_with(method) &&
        where[where.size() - method.size() - 1] == '.')
        return std::string(where);
    return std::string(where) + "." + std::string(method);
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// The first progress counter token "N/M" of `t`, if any (see the table). In a partial line the token
// must be followed by a delimiter: "1/2" may still become "1/20".
std::optional<std::pair<std::uint64_t, std::uint64_t>> find_counter(std::string_view t, bool partial) {
    constexpr std::size_t kMaxDigits = 9;
    for (std::size_t slash = t.find('/'); slash != std::string_view::npos; slash = t.find('/', slash + 1)) {
        std::size_t b = slash, e = slash + 1;
        while (b > 0 && digit(t[b - 1])) --b;
        while (e < t.size() && digit(t[e])) ++e;
        const std::size_t n_digits = slash - b, m_digits = e - slash - 1;
        if (n_digits == 0 || m_digits == 0 || n_digits > kMaxDigits || m_digits > kMaxDigits) continue;
        if (b > 0 && !(blank(t[b - 1]) || t[b - 1] == '(' || t[b - 1] == '[')) continue;
        if (e == t.size() ? partial : !(blank(t[e]) || t[e] == ')' || t[e] == ']' || t[e] == ',')) continue;
        if (t.substr(e).starts_with(" Test")) continue;  // ctest's "1/3 Test #1: name"
        std::uint64_t n = 0, m = 0;
        std::from_chars(t.data() + b, t.data() + slash, n);
        std::from_chars(t.data() + slash + 1, t.data() + e, m);
        if (m > 1 && n <= m) return std::pair{n, m};
    }
    return std::nullopt;
}

int runner_index(Runner r) { return static_cast<int>(r); }

}  // namespace

MarkerDetector::MarkerDetector(const MarkersSpec& spec) : spec_(spec) {
    if (spec_.mode == MarkersSpec::Mode::Pattern)
        pattern_ = std::make_shared<const Pattern>(Pattern{compile_marker_pattern(spec_.pattern)});
}

std::optional<MarkerEvent> MarkerDetector::on_line(std::string_view line) {
    // The line that completes a partial which gave a Start: not a second Start of the same test.
    const bool continues = !partial_started_.empty() && line.starts_with(partial_started_);
    if (continues) partial_started_.clear();
    auto event = match(line, false);
    if (event && continues && event->type == MarkerEvent::Type::Start) return std::nullopt;
    return event;
}

std::optional<MarkerEvent> MarkerDetector::on_partial(std::string_view partial) {
    if (partial.empty()) return std::nullopt;
    const bool started = !partial_started_.empty() && partial.starts_with(partial_started_);
    auto event = match(partial, true);
    if (!event || event->type != MarkerEvent::Type::Start) return event;
    if (started) return std::nullopt;  // one Start per partial line, however often it grows
    partial_started_ = std::string(partial);
    return event;
}

std::optional<MarkerEvent> MarkerDetector::match(std::string_view text, bool partial) {
    if (spec_.mode == MarkersSpec::Mode::None) return std::nullopt;
    const std::string_view shown = visible(text, scratch_);
    if (spec_.mode == MarkersSpec::Mode::Pattern) {
        if (partial) return std::nullopt;
        const std::string_view t = shown.substr(0, kMaxLine);
        std::cmatch m;
        if (!std::regex_search(t.data(), t.data() + t.size(), m, pattern_->re) || !m[1].matched ||
            m[1].length() == 0)
            return std::nullopt;
        kind_ = MarkerKind::Regex;
        return MarkerEvent{MarkerEvent::Type::End, MarkerKind::Regex, m[1].str()};
    }
    if (shown.size() > kMaxLine) return std::nullopt;
    const std::string_view t = trim_left(shown);
    if (t.empty()) return std::nullopt;
    for (const Compiled& c : table()) {
        const Row& r = *c.row;
        if (runner_ >= 0 ? runner_index(r.runner) != runner_ : !r.decides) continue;
        if (r.input == (partial ? Input::Line : Input::Partial)) continue;
        if (in_summary_ && (r.action == Action::Start || r.action == Action::End)) continue;
        if (r.naming == Naming::Counter) {
            if (auto e = counter(t, partial)) return e;
            continue;
        }
        if (!prefilter(r, t)) continue;
        std::cmatch m;
        if (!std::regex_match(t.data(), t.data() + t.size(), m, c.re)) continue;
        if (r.action == Action::SummaryBegin || r.action == Action::SummaryEnd) {
            in_summary_ = r.action == Action::SummaryBegin;
            return std::nullopt;
        }
        std::string name;
        switch (r.naming) {
            case Naming::Group:
                name = m[r.group].str();
                break;
            case Naming::Unittest:
                name = unittest_name(std::string_view(m[1].first, m[1].length()),
                                     std::string_view(m[2].first, m[2].length()));
                break;
            case Naming::Running:
                name = running_;
                break;
            case Naming::Counter:
                break;
        }
        if (name.empty()) continue;
        runner_ = runner_index(r.runner);
        kind_ = kind_of(r.runner);
        const auto type = r.action == Action::Start ? MarkerEvent::Type::Start : MarkerEvent::Type::End;
        if (type == MarkerEvent::Type::Start) running_ = name;
        return MarkerEvent{type, *kind_, std::move(name)};
    }
    return std::nullopt;
}

// A progress counter: an End "N/M" when N rose within the same series (same M). A new series (another
// M, or N fell) only arms itself until a runner is decided; once counters are the runner, its first
// value counts too.
std::optional<MarkerEvent> MarkerDetector::counter(std::string_view t, bool partial) {
    auto found = find_counter(t, partial);
    if (!found) return std::nullopt;
    const auto [n, m] = *found;
    const bool decided = runner_ == runner_index(Runner::Counter);
    const bool rose = m == counter_m_ && n > counter_n_;
    const bool new_series = m != counter_m_ || n < counter_n_;
    counter_n_ = n;
    counter_m_ = m;
    if (!rose && !(new_series && decided)) return std::nullopt;
    runner_ = runner_index(Runner::Counter);
    kind_ = MarkerKind::Counter;
    return MarkerEvent{MarkerEvent::Type::End, MarkerKind::Counter,
                       std::to_string(n) + "/" + std::to_string(m)};
}

}  // namespace corral
