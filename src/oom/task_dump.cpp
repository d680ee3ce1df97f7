#include "corral/oom/task_dump.hpp"

#include <unistd.h>

#include <charconv>
#include <string_view>

namespace corral {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view skip_space(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    return s;
}

// The next whitespace-separated word of s (s moves past it); "" at the end.
std::string_view next_word(std::string_view& s) {
    s = skip_space(s);
    std::size_t n = 0;
    while (n < s.size() && !is_space(s[n])) ++n;
    auto word = s.substr(0, n);
    s.remove_prefix(n);
    return word;
}

std::optional<std::int64_t> to_int(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// "[  pid  ]   uid  tgid … oom_score_adj name" → {"pid", "uid", "tgid", …, "name"}; nullopt for any
// other line. The pid column is bracketed, padded to the width of the rows' "[%5d]" or "[%7d]".
std::optional<std::vector<std::string>> header_columns(std::string_view line) {
    if (line.empty() || line.front() != '[') return std::nullopt;
    auto close = line.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view inside = line.substr(1, close - 1);
    if (next_word(inside) != "pid" || !skip_space(inside).empty()) return std::nullopt;
    std::vector<std::string> cols{"pid"};
    std::string_view rest = line.substr(close + 1);
    for (auto w = next_word(rest); !w.empty(); w = next_word(rest)) cols.emplace_back(w);
    if (cols.size() < 3 || cols.back() != "name") return std::nullopt;
    return cols;
}

// Puts one column's value into the task; false when a count that cannot be negative is.
bool assign(OomTask& t, const std::string& col, std::int64_t v, std::uint64_t page_size) {
    const auto pages = [&](std::uint64_t& out) {
        if (v < 0) return false;
        out = static_cast<std::uint64_t>(v) * page_size;
        return true;
    };
    const auto opt_pages = [&](std::optional<std::uint64_t>& out) {
        std::uint64_t bytes = 0;
        if (!pages(bytes)) return false;
        out = bytes;
        return true;
    };
    if (col == "uid") {
        t.uid = v;
    } else if (col == "tgid") {
        t.tgid = static_cast<pid_t>(v);
    } else if (col == "total_vm") {
        return pages(t.total_vm_bytes);
    } else if (col == "rss") {
        return pages(t.rss_bytes);
    } else if (col == "swapents") {
        return pages(t.swap_bytes);
    } else if (col == "rss_anon") {
        return opt_pages(t.rss_anon_bytes);
    } else if (col == "rss_file") {
        return opt_pages(t.rss_file_bytes);
    } else if (col == "rss_shmem") {
        return opt_pages(t.rss_shmem_bytes);
    } else if (col == "pgtables_bytes") {
        if (v < 0) return false;
        t.pgtables_bytes = static_cast<std::uint64_t>(v);
    } else if (col == "oom_score_adj") {
        t.oom_score_adj = v;
    } else if (col == "nr_ptes") {
        t.nr_ptes = v;
    } else if (col == "nr_pmds") {
        t.nr_pmds = v;
    } else {
        t.extra[col] = v;
    }
    return true;
}

// "[  13692]     0 13692     8819 … alloc": the numbers the header names, then the name (the rest of
// the line: a comm may contain spaces). nullopt when the row is cut short or malformed.
std::optional<OomTask> parse_row(std::string_view line, const std::vector<std::string>& cols,
                                 std::uint64_t page_size) {
    if (line.empty() || line.front() != '[') return std::nullopt;
    auto close = line.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto pid = to_int(skip_space(line.substr(1, close - 1)));
    if (!pid || *pid <= 0) return std::nullopt;
    OomTask t;
    t.pid = static_cast<pid_t>(*pid);
    std::string_view rest = line.substr(close + 1);
    for (std::size_t i = 1; i + 1 < cols.size(); ++i) {
        auto v = to_int(next_word(rest));
        if (!v || !assign(t, cols[i], *v, page_size)) return std::nullopt;
    }
    // The name: the rest of the line after the padding ("%5hd %s").
    rest = skip_space(rest);
    while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.remove_suffix(1);
    if (rest.empty()) return std::nullopt;  // cut before its name
    t.name = std::string(rest);
    return t;
}

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

std::uint64_t system_page_size() {
    long size = ::sysconf(_SC_PAGESIZE);
    return size > 0 ? static_cast<std::uint64_t>(size) : 4096;
}

std::optional<TaskDump> parse_task_dump(const std::vector<std::string>& lines, std::uint64_t page_size) {
    std::size_t i = 0;
    std::optional<std::vector<std::string>> cols;
    for (; i < lines.size() && !cols; ++i) cols = header_columns(lines[i]);
    if (!cols) return std::nullopt;
    TaskDump dump;
    dump.columns = std::move(*cols);
    dump.page_size = page_size;
    for (; i < lines.size() && !lines[i].empty() && lines[i].front() == '['; ++i) {
        if (auto t = parse_row(lines[i], dump.columns, page_size))
            dump.tasks.push_back(std::move(*t));
        else
            ++dump.unparsed_rows;
    }
    return dump;
}

nlohmann::json oom_task_to_json(const OomTask& t) {
    nlohmann::json j = {
        {"pid", t.pid},
        {"tgid", opt(t.tgid)},
        {"uid", opt(t.uid)},
        {"total_vm_bytes", t.total_vm_bytes},
        {"rss_bytes", t.rss_bytes},
        {"swap_bytes", t.swap_bytes},
        {"oom_score_adj", t.oom_score_adj},
        {"name", t.name},
    };
    if (t.rss_anon_bytes) j["rss_anon_bytes"] = *t.rss_anon_bytes;
    if (t.rss_file_bytes) j["rss_file_bytes"] = *t.rss_file_bytes;
    if (t.rss_shmem_bytes) j["rss_shmem_bytes"] = *t.rss_shmem_bytes;
    if (t.pgtables_bytes) j["pgtables_bytes"] = *t.pgtables_bytes;
    if (t.nr_ptes) j["nr_ptes"] = *t.nr_ptes;
    if (t.nr_pmds) j["nr_pmds"] = *t.nr_pmds;
    for (const auto& [k, v] : t.extra) j[k] = v;
    return j;
}

nlohmann::json task_dump_to_json(const std::optional<TaskDump>& dump) {
    if (!dump) return nullptr;
    nlohmann::json tasks = nlohmann::json::array();
    for (const auto& t : dump->tasks) tasks.push_back(oom_task_to_json(t));
    return tasks;
}

}  // namespace corral
