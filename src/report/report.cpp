#include "corral/report/report.hpp"

#include "corral/base/fd.hpp"
#include "corral/report/html_outputs.hpp"
#include "corral/report/split_report.hpp"

namespace corral {

using nlohmann::json;

namespace {

// null when unset, "infinity" for kInfinity, else the number.
json limit_json(const std::optional<std::uint64_t>& v) {
    if (!v) return nullptr;
    if (*v == kInfinity) return "infinity";
    return *v;
}

template <class T>
json opt_json(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

json str_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json signal_json(const std::optional<int>& sig) { return sig ? json(signal_name(*sig)) : json(nullptr); }

json proc_json(const ProcInfo& p) {
    return {{"pid", p.pid},        {"ppid", p.ppid},           {"state", std::string(1, p.state)},
            {"wchan", p.wchan},    {"rss_bytes", p.rss_bytes}, {"comm", p.comm},
            {"cmdline", p.cmdline}};
}

// memory.peak_processes: what each of the box's largest processes held at its peak.
json peak_processes_json(const SuiteResult& s) {
    json procs = json::array();
    for (const auto& p : s.peak_processes)
        procs.push_back({{"pid", p.pid},
                         {"ppid", p.ppid},
                         {"comm", p.comm},
                         {"cmdline", p.cmdline},
                         {"rss_bytes", p.rss_bytes},
                         {"swap_bytes", p.swap_bytes}});
    return procs;
}

json limits_json(const SuiteResult& s) {
    const Limits& l = s.limits;
    return {{"memory_max_bytes", limit_json(l.memory_max)},
            {"memory_high_bytes", limit_json(l.memory_high)},
            {"swap_max_bytes", limit_json(l.swap_max)},
            {"tasks_max", limit_json(l.tasks_max)},
            {"cpu_quota_percent", opt_json(l.cpu_quota_percent)},
            {"oom_group", l.oom_group},
            {"timeout_s", s.timeout ? json(to_seconds(*s.timeout)) : json(nullptr)},
            {"kill_grace_s", to_seconds(s.kill_grace)}};
}

// A counter file as an object, or null when the backend has none.
json counters_json(const std::map<std::string, std::uint64_t>& m) {
    if (m.empty()) return nullptr;
    json j = json::object();
    for (const auto& [k, v] : m) j[k] = v;
    return j;
}

// [[t_s, bytes, last_line]] of a range of memory samples.
template <class Range>
json sample_rows(const Range& samples) {
    json rows = json::array();
    for (const auto& m : samples) rows.push_back(json::array({m.t_s, m.bytes, m.last_line}));
    return rows;
}

json memory_json(const SuiteResult& s) {
    const MemorySeries& mem = s.samples;
    json samples = sample_rows(mem.recent());
    json history = json::array();
    for (const auto& b : mem.history())
        history.push_back(json::array({b.t_start_s, b.t_end_s, b.min_bytes, b.max_bytes, b.last_bytes}));
    json pressure = json::array();
    for (const auto& p : s.pressure.recent())
        pressure.push_back(
            json::array({p.t_s, p.some_avg10, p.full_avg10, p.some_total_us, p.full_total_us}));
    json pressure_history = json::array();
    for (const auto& b : s.pressure.history())
        pressure_history.push_back(json::array(
            {b.t_start_s, b.t_end_s, b.max_some_avg10, b.max_full_avg10, b.some_total_us, b.full_total_us}));
    json peak_sample = nullptr;
    if (s.peak_sample)
        peak_sample = {{"t_s", s.peak_sample->t_s},
                       {"bytes", s.peak_sample->bytes},
                       {"anon_bytes", opt_json(s.peak_sample->anon_bytes)},
                       {"file_bytes", opt_json(s.peak_sample->file_bytes)},
                       {"last_line", s.peak_sample->last_line}};
    PressureSummary ps = s.pressure.summary();
    json summary = nullptr;
    if (ps.available)
        summary = {{"some_total_s", ps.some_total_s},
                   {"full_total_s", ps.full_total_s},
                   {"worst_full_percent", ps.worst_full_percent},
                   {"worst_start_s", ps.worst_start_s},
                   {"worst_window_s", ps.worst_window_s},
                   {"thrashing", ps.thrashing},
                   {"threshold", {{"full_percent", kThrashingFullPercent}, {"window_s", kThrashingWindowS}}}};
    return {{"peak_bytes", opt_json(s.peak_bytes)},
            {"peak_source", str_or_null(s.peak_source)},
            {"peak_sample", std::move(peak_sample)},
            {"peak_processes", peak_processes_json(s)},
            {"peak_processes_read",
             s.peak_processes_t_s ? json{{"t_s", *s.peak_processes_t_s},
                                         {"memory_bytes", s.peak_processes_memory_bytes},
                                         {"processes", s.peak_processes_count}}
                                  : json(nullptr)},
            {"samples", std::move(samples)},
            {"sample_count", mem.count()},
            {"history", std::move(history)},
            {"history_bucket_s", mem.bucket_s()},
            {"oom_samples", sample_rows(mem.oom_samples())},
            {"growth", s.growth ? growth_to_json(*s.growth) : json()},
            {"failcnt", s.memory_failcnt},
            {"events", counters_json(s.memory_events)},
            {"events_local", counters_json(s.memory_events_local)},
            {"pressure",
             {{"samples", std::move(pressure)},
              {"history", std::move(pressure_history)},
              {"history_bucket_s", s.pressure.bucket_s()},
              {"summary", std::move(summary)}}}};
}

json hook_json(const std::optional<HookResult>& h) {
    if (!h) return nullptr;
    return {{"argv", h->argv},
            {"exit_code", opt_json(h->exit_code)},
            {"signal", signal_json(h->signal)},
            {"timed_out", h->timed_out},
            {"duration_s", h->duration_s},
            {"error", str_or_null(h->error)}};
}

}  // namespace

json suite_to_json(const SuiteResult& s) {
    json left = json::array();
    for (const auto& p : s.left_behind) left.push_back(proc_json(p));
    json snapshot = json::array();
    for (const auto& p : s.timeout_snapshot) snapshot.push_back(proc_json(p));

    json j;
    j["name"] = s.name;
    j["verdict"] = verdict_name(s.verdict);
    j["exit_code"] = opt_json(s.exit_code);
    j["signal"] = signal_json(s.signal);
    j["signal_number"] = opt_json(s.signal);
    j["duration_s"] = s.duration_s;
    j["command"] = s.command;
    j["cgroup"] = str_or_null(s.cgroup);
    j["boxed"] = s.boxed;
    j["limits"] = limits_json(s);
    j["kill_grace_s"] = to_seconds(s.kill_grace);
    j["memory"] = memory_json(s);
    json records = json::array();
    for (const auto& k : s.oom_records) records.push_back(k.detail);
    j["oom"] = {{"kills", oom_kill_count(s)},
                {"group_killed", s.oom_group_killed},
                {"records_without_header", s.oom_records_without_header},
                {"line_at_first_kill", s.line_at_first_kill.empty() ? nlohmann::json(nullptr)
                                                                    : nlohmann::json(s.line_at_first_kill)},
                {"records", std::move(records)}};
    j["tasks"] = {{"limit_hits", s.tasks_limit_hits}, {"events", counters_json(s.pids_events)}};
    j["cpu"] = {{"usage_us", opt_json(s.cpu_usage_us)},
                {"throttled_us", opt_json(s.cpu_throttled_us)},
                {"nr_throttled", opt_json(s.cpu_nr_throttled)},
                {"stat", counters_json(s.cpu_stat)}};
    j["start_method"] = str_or_null(s.start_method);
    j["cgroup_namespace"] = s.cgroup_namespace;
    j["backend"] = str_or_null(s.backend);
    j["backend_reason"] = str_or_null(s.backend_reason);
    j["systemd"] = s.systemd;
    j["left_behind"] = {{"count", s.left_behind_count}, {"processes", std::move(left)}};
    j["timeout_snapshot"] = std::move(snapshot);
    j["on_timeout"] = hook_json(s.on_timeout);
    j["timed_out"] = s.timed_out;
    j["stall_timeout_s"] = s.stall_timeout ? json(to_seconds(*s.stall_timeout)) : json(nullptr);
    j["stalled"] = s.stalled;
    j["interrupted"] = s.interrupted;
    j["term_signalled"] = s.term_signalled;
    j["kill_signalled"] = s.kill_signalled;
    j["timeout_at_s"] = opt_json(s.timeout_at_s);
    j["sigkill_at_s"] = opt_json(s.sigkill_at_s);
    j["kill_method"] = str_or_null(s.kill_method);
    j["grace_cut_s"] = opt_json(s.grace_cut_s);
    j["live_output_dropped_bytes"] = s.live_output_dropped;
    j["launch_error"] = str_or_null(s.launch_error);
    j["last_line"] = s.last_line;
    j["stdout"] = str_or_null(s.stdout_file);
    j["stderr"] = str_or_null(s.stderr_file);
    j["profile"] = str_or_null(s.profile);
    j["notes"] = s.notes;
    j["explanation"] = s.explanation;
    j["split"] = s.split ? json{{"of", s.split->of}, {"index", s.split->index}, {"items", s.split->items}} : json(nullptr);
    return j;
}

json report_to_json(const RunReport& r) {
    json suites = json::array();
    for (const auto& s : r.suites) suites.push_back(suite_to_json(s));
    json j;
    j["schema"] = kReportSchema;
    j["backend"] = r.backend;
    j["host"] = r.host;
    j["started_at"] = r.started_at;
    j["duration_s"] = r.duration_s;
    j["corral_version"] = r.corral_version;
    j["notes"] = r.notes;
    j["oom"] = {{"source", r.oom_source}, {"lost_records", r.oom_lost}, {"records", r.run_oom_records}};
    j["suites"] = std::move(suites);
    j["splits"] = splits_json(split_runs(r.suites, r.not_run));
    return j;
}

namespace {

std::string json_text(const json& doc) {
    // Output lines and command lines are not always valid UTF-8: replace bad bytes with U+FFFD
    // rather than failing the whole report.
    return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string report_json_text(const RunReport& r) { return json_text(report_to_json(r)); }

json write_report(const std::string& dir, const RunReport& r) {
    const std::string text = report_json_text(r);
    json doc = json::parse(text);
    with_context("writing the report to " + dir, [&] {
        make_dirs(dir);
        write_file_atomic(dir + "/report.json", text);
        // Rendered from the same document, as `corral show` renders them from report.json.
        write_html_outputs(dir, doc);
    });
    return doc;
}

}  // namespace corral
