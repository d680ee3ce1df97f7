#include "corral/cli.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <set>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/backend.hpp"
#include "corral/box/backend_set.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/oom/oom_watch.hpp"
#include "corral/profile/marker_pattern.hpp"
#include "corral/profile/profile.hpp"
#include "corral/profile/quantities.hpp"
#include "corral/profile/split.hpp"
#include "corral/report/ci_annotations.hpp"
#include "corral/report/junit.hpp"
#include "corral/report/outputs.hpp"
#include "corral/report/report.hpp"
#include "corral/report/report_doc.hpp"
#include "corral/report/step_summary.hpp"
#include "corral/report/split_report.hpp"
#include "corral/run/progress.hpp"
#include "corral/run/run_lock.hpp"
#include "corral/run/signals.hpp"
#include "corral/run/spawn.hpp"
#include "corral/run/supervisor.hpp"

namespace corral {

namespace {

struct AdHoc {
    std::string memory_max, memory_high, swap_max, cpu, timeout, stall_timeout, kill_grace, markers, name = "adhoc";
    std::int64_t tasks_max = -1;
    std::string split;       // --split GLOB: one suite per batch of the files it matches
    std::size_t batch = 0;   // --batch N (0: not given, 1 item a batch)
};

std::string utc_now(const char* fmt) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, fmt, &tm);
    return buf;
}

// The report's `host`: uname's nodename.
std::string host_name() {
    struct utsname u {};
    if (::uname(&u) != 0) throw_errno("uname");
    return u.nodename;
}

// corral-reports/<UTC timestamp>, made here: mkdir is what tells two runs started in the same second
// apart (a check for the name before making it let both take the same directory).
std::string default_report_dir() {
    const std::string parent = "corral-reports";
    make_dirs(parent);
    const std::string base = parent + "/" + utc_now("%Y%m%dT%H%M%SZ");
    std::string dir = base;
    for (int i = 2; ::mkdir(dir.c_str(), 0755) < 0; ++i) {
        if (errno != EEXIST) throw_errno("mkdir " + dir);
        dir = fmt::format("{}-{}", base, i);
    }
    return dir;
}

// The one suite described by flags and the command after `--`.
SuiteSpec adhoc_suite(const AdHoc& a, const std::vector<std::string>& command) {
    SuiteSpec s;
    s.name = a.name;
    s.argv = command;
    s.command_text = join_argv(command);
    auto size = [](const std::string& flag, const std::string& v) {
        try {
            return parse_size(v);
        } catch (const std::invalid_argument& e) {
            throw UsageError(fmt::format("{} '{}': {}", flag, v, e.what()));
        }
    };
    auto duration = [](const std::string& flag, const std::string& v) {
        try {
            return parse_duration(v);
        } catch (const std::invalid_argument& e) {
            throw UsageError(fmt::format("{} '{}': {}", flag, v, e.what()));
        }
    };
    if (!a.memory_max.empty()) s.limits.memory_max = size("--memory-max", a.memory_max);
    if (!a.memory_high.empty()) s.limits.memory_high = size("--memory-high", a.memory_high);
    if (!a.swap_max.empty()) s.limits.swap_max = size("--swap-max", a.swap_max);
    if (a.tasks_max >= 0) s.limits.tasks_max = static_cast<std::uint64_t>(a.tasks_max);
    if (!a.cpu.empty()) {
        std::string v = a.cpu;
        if (v.empty() || v.back() != '%')
            throw UsageError(fmt::format("--cpu '{}': expected a percentage of one core, such as 150%", a.cpu));
        try {
            size_t used = 0;
            double pct = std::stod(v.substr(0, v.size() - 1), &used);
            if (used != v.size() - 1) throw std::invalid_argument("trailing");
            s.limits.cpu_quota_percent = pct;
        } catch (const std::exception&) {
            throw UsageError(fmt::format("--cpu '{}': expected a percentage of one core, such as 150%", a.cpu));
        }
        try {
            cpu_quota_from_percent(*s.limits.cpu_quota_percent);
        } catch (const std::invalid_argument& e) {
            throw UsageError(fmt::format("--cpu '{}': {}", a.cpu, e.what()));
        }
    }
    if (!a.timeout.empty()) s.timeout = duration("--timeout", a.timeout);
    if (!a.stall_timeout.empty()) s.stall_timeout = duration("--stall-timeout", a.stall_timeout);
    if (!a.kill_grace.empty()) s.kill_grace = duration("--kill-grace", a.kill_grace);
    if (!a.markers.empty()) s.markers = parse_markers_flag(a.markers);
    s.where.file = "command line";
    validate_suite(s);
    return s;
}

// The ad-hoc suite, or with --split the suites of its batches (the glob resolved against the
// current directory, where the command runs).
std::vector<SuiteSpec> adhoc_suites(const AdHoc& a, const std::vector<std::string>& command) {
    SuiteSpec s = adhoc_suite(a, command);
    if (a.split.empty()) {
        if (a.batch > 0) throw UsageError("--batch N is the batch size of --split: give --split GLOB too");
        return {s};
    }
    SplitRequest req;
    req.pattern = a.split;
    req.batch = a.batch > 0 ? a.batch : 1;
    req.where.file = "command line";
    req.key = "--split";
    const std::string cwd = std::filesystem::current_path().string();
    try {
        return expand_split(s, resolve_split_items(req, cwd, cwd), req.batch, false);
    } catch (const ProfileError& e) {  // "--split: …", without the location a profile has
        throw UsageError(e.key() + ": " + e.message());
    }
}

std::string opt_size(const std::optional<std::uint64_t>& v) { return v ? format_bytes(*v) : "-"; }

void print_check(const std::vector<SuiteSpec>& suites) {
    for (const auto& s : suites) {
        std::cout << fmt::format("{} ({})\n", s.name, s.where.str());
        std::cout << fmt::format("  command          {}\n", s.command_text);
        if (s.workdir) std::cout << fmt::format("  workdir          {}\n", *s.workdir);
        std::cout << fmt::format("  memory.max       {}\n", opt_size(s.limits.memory_max));
        std::cout << fmt::format("  memory.high      {}\n", opt_size(s.limits.memory_high));
        std::cout << fmt::format("  swap_max         {}\n", opt_size(s.limits.swap_max));
        std::cout << fmt::format("  tasks_max        {}\n",
                                 s.limits.tasks_max ? (*s.limits.tasks_max == kInfinity ? "infinity" : std::to_string(*s.limits.tasks_max)) : "-");
        std::cout << fmt::format("  cpu.quota        {}\n",
                                 s.limits.cpu_quota_percent ? fmt::format("{}%", *s.limits.cpu_quota_percent) : "-");
        std::cout << fmt::format("  timeout          {}\n", s.timeout ? format_duration(*s.timeout) : "none");
        std::cout << fmt::format("  stall_timeout    {}\n", s.stall_timeout ? format_duration(*s.stall_timeout) : "none");
        std::cout << fmt::format("  kill_grace       {}\n", format_duration(s.kill_grace));
        std::cout << fmt::format("  sample_interval  {}\n", format_duration(s.sample_interval));
        std::cout << fmt::format("  backend          {}\n", backend_choice_name(s.backend));
        std::cout << fmt::format("  markers          {}\n", describe_markers(s.markers));
        if (s.split)
            std::cout << fmt::format("  split            batch {} of {} of {}: {}\n", s.split->index, s.split->batches,
                                     s.split->of, items_text(s.split->items));
        if (!s.on_timeout.empty()) {
            const std::string hook = join_argv(s.on_timeout);
            std::cout << fmt::format("  on_timeout       {} (at most {})\n", hook, format_duration(s.on_timeout_limit));
        }
    }
}

struct RunFlags {
    std::string report_dir;
    int jobs = 1;
    bool allow_unboxed = false;
    bool verbose = false;
    std::string backend;  // --backend: overrides the profiles
    std::string bus = "auto";
    std::string slice = "corral.slice";
    std::string oom_source = "auto";
    std::string oom_settle = "200ms";
    std::string ci = "auto";  // --ci auto|github|gitlab|none
    std::string progress = "auto";  // --progress auto|bar|lines|none
};

// Appends text to the file at path (GitHub's step summary file), creating it.
void append_file(const std::string& path, const std::string& text) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) throw_errno("open " + path);
    for (std::size_t done = 0; done < text.size();) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write " + path);
        done += static_cast<std::size_t>(n);
    }
}

// What is rendered from the report document once report.json is written: junit.xml beside it, and
// for GitHub the annotations (corral's stdout) and the step summary ($GITHUB_STEP_SUMMARY).
void write_outputs(const nlohmann::json& doc, const std::string& report_dir, CiSystem ci) {
    with_context("writing " + report_dir + "/junit.xml",
                 [&] { write_file_atomic(report_dir + "/junit.xml", render_junit(doc, report_dir)); });
    if (ci != CiSystem::GitHub) return;
    std::cout << render_github_annotations(doc) << std::flush;
    const char* summary = std::getenv("GITHUB_STEP_SUMMARY");
    if (!summary || !*summary) {
        std::cerr << "corral: note: GITHUB_STEP_SUMMARY is not set: no step summary written\n";
        return;
    }
    with_context("writing the step summary", [&] { append_file(summary, render_step_summary_markdown(doc)); });
}

int do_run(const std::vector<SuiteSpec>& suites, const RunFlags& flags) {
    const std::string& report_dir_opt = flags.report_dir;
    const int jobs = flags.jobs;
    const bool allow_unboxed = flags.allow_unboxed;
    OomSourceChoice oom_choice = parse_oom_source(flags.oom_source);
    Duration oom_settle;
    try {
        oom_settle = parse_duration(flags.oom_settle);
    } catch (const std::invalid_argument& e) {
        throw UsageError("--oom-settle '" + flags.oom_settle + "': " + e.what());
    }
    const CiSystem ci = resolve_ci(flags.ci, std::getenv("GITHUB_ACTIONS"), std::getenv("GITLAB_CI"));
    // Checked before anything is set up: bar needs a terminal; the test hook's interval must be valid.
    const ProgressMode progress = parse_progress_mode(flags.progress);
    resolve_progress_mode(progress);
    if (progress != ProgressMode::None) progress_interval();
    std::string report_dir = report_dir_opt.empty()
                                 ? with_context("creating the report directory", default_report_dir)
                                 : report_dir_opt;
    // From here until the report is on disk, SIGINT/SIGTERM are read through a signalfd: one that
    // comes while corral sets up, waits for late records or writes the report cannot kill it.
    Signals signals;
    signals.keep_blocked();
    RunLock lock;
    BackendSetOptions bopts;
    bopts.run_id = lock.id();
    bopts.allow_unboxed = allow_unboxed;
    bopts.scope.slice = flags.slice;
    if (flags.bus == "system") bopts.scope.bus = BusChoice::System;
    if (flags.bus == "user") bopts.scope.bus = BusChoice::User;
    if (!flags.backend.empty()) bopts.force = parse_backend_choice(flags.backend);
    BackendSet backends(suites, bopts);
    RunReport report;
    report.corral_version = CORRAL_VERSION;
    report.started_at = utc_now("%Y-%m-%dT%H:%M:%SZ");
    report.host = host_name();
    for (const auto& msg : backends.notes()) {
        bool warning = msg.rfind("no cgroup could be used", 0) == 0;
        if (warning) std::cerr << "corral: warning: " << msg << "\n";
        else if (flags.verbose) std::cerr << "corral: " << msg << "\n";
        report.notes.push_back(msg);
    }
    if (flags.verbose) {
        std::string names;
        for (Backend* b : backends.backends()) names += (names.empty() ? "" : ", ") + b->name();
        std::cerr << "corral: backends " << names << ", run id " << lock.id() << "\n";
    }
    std::set<std::string> cleared, remaining;
    const LauncherGone gone = [](const std::string& id) { return RunLock::gone(id); };
    for (Backend* b : backends.backends()) {
        StaleCleanup c;
        try {
            c = b->remove_stale(gone);
        } catch (const Error& e) {  // an old box never fails a new run
            c.messages.push_back(std::string("warning: looking for stale boxes failed (a later run tries again): ") + e.what());
        }
        for (const auto& msg : c.messages) {
            std::cerr << "corral: " << msg << "\n";
            report.notes.push_back(msg);
        }
        cleared.merge(c.cleared);
        remaining.merge(c.remaining);
    }
    for (const auto& id : cleared)
        if (!remaining.count(id)) RunLock::forget(id);
    with_context("creating the report directory", [&] { make_dirs(report_dir); });
    // Opened before any suite starts: only records written from now on are read.
    OomWatch oom = with_context("opening the kernel OOM record source", [&] { return OomWatch(oom_choice); });
    report.oom_source = oom.source();
    if (oom.source() == "none" && oom_choice == OomSourceChoice::Auto) {
        std::cerr << "corral: warning: " << oom.why() << "\n";
        report.notes.push_back(oom.why());
    }
    auto t0 = std::chrono::steady_clock::now();
    RunOptions opts;
    opts.report_dir = report_dir;
    opts.jobs = jobs;
    opts.prefix_output = jobs > 1;
    opts.ci_groups = jobs == 1 ? ci : CiSystem::None;  // interleaved output has no blocks
    opts.progress = progress;
    opts.run_id = lock.id();
    std::string oom_adj_why;
    opts.child_oom_score_adj = protect_launcher_from_oom(oom_adj_why);
    if (!oom_adj_why.empty()) {
        std::string note = "corral could not make itself exempt from the OOM killer (" + oom_adj_why +
                           "): an OOM kill in a cgroup that corral shares with its suites (an ancestor limit) may "
                           "end corral before it writes the report";
        if (flags.verbose) std::cerr << "corral: note: " << note << "\n";
        report.notes.push_back(note);
    }
    opts.oom = &oom;
    opts.oom_settle = oom_settle;
    opts.launcher_memcg = backends.launcher_memcg();
    opts.pick = [&](const SuiteSpec& s, std::string& reason, std::string& error) {
        return backends.pick(s, reason, error);
    };
    auto all = backends.backends();
    if (all.empty()) throw Error("no backend could be set up");
    opts.backends = all;
    opts.signals = &signals;
    // A signal that came while corral set up counts as one that came at the start of the run.
    bool early_interrupt = false;
    for (int sig : signals.read()) early_interrupt = early_interrupt || sig != SIGCHLD;
    RunOutcome outcome;
    if (early_interrupt) {
        outcome.interrupted = true;
        for (const auto& s : suites) {
            SuiteResult r;
            r.name = s.name;
            r.command = s.command_text;
            r.limits = s.limits;
            r.timeout = s.timeout;
            r.split = s.split;
            r.profile = s.profile;
            r.interrupted = true;
            r.notes.push_back("not started: corral was interrupted before this suite's turn");
            finalize(r);
            outcome.results.push_back(std::move(r));
        }
    } else {
        outcome = run_suites(*all.front(), suites, opts);
    }
    if (outcome.boxes_left) lock.keep_file();  // a later run sees the box stale by this lock
    if (outcome.live_output_dropped > 0)
        report.notes.push_back(fmt::format(
            "{} bytes of the suites' output were left out of corral's live stdout/stderr: their reader was too "
            "slow (the suites' .stdout/.stderr files have everything)",
            outcome.live_output_dropped));
    bool interrupted = outcome.interrupted;
    // Batches fail_fast kept from running are no suites of the report: its `splits` count them.
    std::sort(outcome.not_run.begin(), outcome.not_run.end());
    for (auto i = outcome.not_run.rbegin(); i != outcome.not_run.rend(); ++i) {
        report.not_run.insert(report.not_run.begin(), *suites[*i].split);
        outcome.results.erase(outcome.results.begin() + static_cast<std::ptrdiff_t>(*i));
    }
    report.suites = std::move(outcome.results);
    // One backend for the whole run, or "mixed" (each suite's own is in its "backend").
    for (const auto& s : report.suites) {
        if (s.backend.empty()) continue;
        if (report.backend.empty()) report.backend = s.backend;
        else if (report.backend != s.backend) report.backend = "mixed";
    }
    if (report.backend.empty()) report.backend = all.front()->name();
    report.run_oom_records = std::move(outcome.run_oom_records);
    report.oom_lost = oom.lost();
    if (report.oom_lost > 0)
        report.notes.push_back(fmt::format("{} kernel log records were overwritten before corral read them: "
                                           "OOM records may be missing", report.oom_lost));
    report.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (interrupted) report.notes.push_back("corral was interrupted (SIGINT/SIGTERM) and ended the running suites");
    // The summary is rendered from the document as written, as `corral show` renders it.
    const nlohmann::json doc = write_report(report_dir, report);
    std::cerr << "\n" << render_output("text", doc, std::filesystem::path(report_dir) / "report.json");
    write_outputs(doc, report_dir, ci);
    for (const auto& s : report.suites)
        if (s.verdict != Verdict::Passed) return 1;
    return 0;
}

struct ShowFlags {
    std::string path;  // DIR (DIR/report.json) or FILE
    std::string format = "text";
    std::string html, junit;  // OUT files, "" when not asked for
};

// `corral show`: the outputs of a report.json, rendered again from the document alone. Every output
// is rendered before anything is printed or written: one that cannot be (not in this build, a field
// the document lacks) leaves nothing half done.
int do_show(const ShowFlags& flags) {
    ReportDocument d;
    std::string printed;
    std::vector<std::pair<std::string, std::string>> files;  // OUT, content
    try {
        d = load_report_document(flags.path);
        const std::filesystem::path file = d.file;
        printed = with_context(d.file, [&] { return render_output(flags.format, d.doc, file); });
        if (!flags.html.empty())
            files.emplace_back(flags.html, with_context(d.file, [&] { return render_output("html", d.doc, file); }));
        if (!flags.junit.empty())
            files.emplace_back(flags.junit, with_context(d.file, [&] { return render_output("junit", d.doc, file); }));
    } catch (const Error& e) {  // the report or the request: nothing was written
        throw UsageError(e.what());
    }
    for (const auto& [out, content] : files) write_file_atomic(out, content);
    std::cout << printed << std::flush;
    return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    // A file over RLIMIT_FSIZE is a write error corral reports (an output file that stopped), not a
    // reason to die with a core dump. Suites start with every signal at its default again.
    ::signal(SIGXFSZ, SIG_IGN);
    // Everything after the first "--" is the ad-hoc command, untouched by option parsing.
    std::vector<std::string> args, command;
    bool after = false;
    for (int i = 1; i < argc; ++i) {
        if (!after && std::string(argv[i]) == "--") {
            after = true;
            continue;
        }
        (after ? command : args).push_back(argv[i]);
    }

    CLI::App app{"corral: run test suites in cgroup boxes with limits, whole-tree timeouts and reports", "corral"};
    app.require_subcommand(1);
    app.set_version_flag("--version", CORRAL_VERSION);

    auto* run = app.add_subcommand("run", "Run every suite of the profiles, or one command after --");
    std::vector<std::string> run_profiles;
    RunFlags flags;
    AdHoc adhoc;
    run->add_option("profiles", run_profiles, "YAML profiles")->type_name("PROFILE");
    run->add_option("--report-dir", flags.report_dir, "Where report.json and the outputs go (default corral-reports/<UTC timestamp>)");
    run->add_option("--jobs,-j", flags.jobs, "Suites to run at once")->check(CLI::Range(1, 256));
    run->add_option("--backend", flags.backend, "Backend for every suite, overriding the profiles: auto, cgroup, systemd-scope")
        ->check(CLI::IsMember({"auto", "cgroup", "systemd-scope"}));
    auto* system_flag = run->add_flag_callback("--system", [&] { flags.bus = "system"; }, "systemd scopes: use the system manager (default as root)");
    run->add_flag_callback("--user", [&] { flags.bus = "user"; }, "systemd scopes: use the user manager (default otherwise)")->excludes(system_flag);
    run->add_option("--slice", flags.slice, "systemd scopes: the slice they go in (default corral.slice)");
    run->add_flag("--verbose,-v", flags.verbose, "Say what corral sets up (backend, cgroup changes) on stderr");
    run->add_flag("--allow-unboxed", flags.allow_unboxed, "Run even when no cgroup can be made (nothing is enforced; the report says so)");
    run->add_option("--oom-source", flags.oom_source, "Kernel OOM records from: auto (journal where journald runs, else kmsg), kmsg, journal, none")
        ->check(CLI::IsMember({"auto", "kmsg", "journal", "none"}));
    run->add_option("--ci", flags.ci, "CI output: auto (GITHUB_ACTIONS=true: github, GITLAB_CI=true: gitlab), github, gitlab, none")
        ->check(CLI::IsMember({"auto", "github", "gitlab", "none"}));
    run->add_option("--progress", flags.progress, "Live progress on stderr: auto (bar on a terminal, else a line per running "
                    "suite every 60s), bar, lines (also a line per suite start and end), none")
        ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
    run->add_option("--oom-settle", flags.oom_settle, "How long to keep reading OOM records after the last suite (default 200ms)");
    run->add_option("--memory-max", adhoc.memory_max, "Ad-hoc suite: memory.max (e.g. 1G)");
    run->add_option("--memory-high", adhoc.memory_high, "Ad-hoc suite: memory.high");
    run->add_option("--swap-max", adhoc.swap_max, "Ad-hoc suite: swap limit");
    run->add_option("--tasks-max", adhoc.tasks_max, "Ad-hoc suite: tasks (pids) limit")->check(CLI::PositiveNumber);
    run->add_option("--cpu", adhoc.cpu, "Ad-hoc suite: CPU quota, e.g. 150% = 1.5 cores");
    run->add_option("--timeout", adhoc.timeout, "Ad-hoc suite: wall-clock timeout, e.g. 30s");
    run->add_option("--stall-timeout", adhoc.stall_timeout, "Ad-hoc suite: end it as stalled after this long without output or CPU time, e.g. 5m");
    run->add_option("--kill-grace", adhoc.kill_grace, "Ad-hoc suite: time between SIGTERM and SIGKILL (default 10s)");
    run->add_option("--markers", adhoc.markers, "Ad-hoc suite: test markers in the output: auto (default), none, or a regex whose one group is the name");
    run->add_option("--name", adhoc.name, "Ad-hoc suite: name (default adhoc)");
    run->add_option("--split", adhoc.split, "Ad-hoc suite: run it once per file matching GLOB (** = any directories), "
                    "the files appended to the command, as suites NAME.1, NAME.2, ...")->type_name("GLOB");
    run->add_option("--batch", adhoc.batch, "With --split: files per batch (default 1)")->check(CLI::PositiveNumber);

    auto* check = app.add_subcommand("check", "Validate profiles and print each suite's resolved limits; runs nothing");
    std::vector<std::string> check_profiles;
    check->add_option("profiles", check_profiles, "YAML profiles")->required()->type_name("PROFILE");

    auto* show = app.add_subcommand("show", "Print a run's summary again from its report.json (also on another "
                                    "machine), or another output of it");
    ShowFlags show_flags;
    show->add_option("report", show_flags.path, "A report directory (its report.json is read) or a report.json")
        ->required()
        ->type_name("DIR|FILE");
    show->add_option("--format", show_flags.format, "What to print: text (the summary, default), markdown (a CI "
                     "step summary), json (the document)")
        ->check(CLI::IsMember({"text", "markdown", "json"}));
    show->add_option("--html", show_flags.html, "Also write the HTML report to OUT")->type_name("OUT");
    show->add_option("--junit", show_flags.junit, "Also write JUnit XML to OUT")->type_name("OUT");

    try {
        std::vector<std::string> rev(args.rbegin(), args.rend());
        app.parse(rev);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }

    try {
        if (*check) {
            if (!command.empty()) throw UsageError("check takes profiles, not a command after --");
            print_check(load_profiles(check_profiles));
            return 0;
        }
        if (*show) {
            if (!command.empty()) throw UsageError("show takes a report directory or file, not a command after --");
            return do_show(show_flags);
        }
        std::vector<SuiteSpec> suites;
        bool adhoc_flags = !adhoc.memory_max.empty() || !adhoc.memory_high.empty() || !adhoc.swap_max.empty() ||
                           adhoc.tasks_max >= 0 || !adhoc.cpu.empty() || !adhoc.timeout.empty() || !adhoc.stall_timeout.empty() ||
                           !adhoc.kill_grace.empty() || !adhoc.markers.empty() || run->count("--name") > 0 ||
                           !adhoc.split.empty() || adhoc.batch > 0;
        if (!command.empty()) {
            if (!run_profiles.empty())
                throw UsageError("give either profiles or a command after --, not both");
            suites = adhoc_suites(adhoc, command);
        } else {
            if (run_profiles.empty()) throw UsageError("run needs a PROFILE, or a command after --");
            if (adhoc_flags)
                throw UsageError("--memory-max, --timeout and the other limit flags describe an ad-hoc suite: "
                                 "give its command after --, or put the limits in the profile");
            suites = load_profiles(run_profiles);
        }
        return do_run(suites, flags);
    } catch (const UsageError& e) {
        std::cerr << "corral: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "corral: error: " << e.what() << "\n";
        return 3;
    }
}

}  // namespace corral
