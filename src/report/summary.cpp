#include "corral/report/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "corral/profile/quantities.hpp"
#include "corral/report/report_doc.hpp"
#include "corral/report/result.hpp"
#include "corral/report/split_report.hpp"

namespace corral {

using nlohmann::json;

namespace {

constexpr std::size_t kRecordsListed = 5;  // kernel OOM records printed per suite (all are in report.json)
constexpr std::size_t kSummaryRanks = 5;   // ranking lines printed per split

// limits.memory_max_bytes when it is a limit (a number); nullopt for null and "infinity".
std::optional<std::uint64_t> memory_max(const DocField& suite) {
    DocField max = suite["limits"]["memory_max_bytes"];
    if (max.is_null() || max.json().is_string()) {
        if (max.json().is_string() && max.str() != "infinity") max.fail("expected a number, \"infinity\" or null");
        return std::nullopt;
    }
    return max.u64();
}

// "peak 64 MiB / 64 MiB (100%)"; "peak 12 MiB (no memory.max)"; "peak n/a".
std::string compact_peak(const DocField& suite) {
    const auto peak = suite["memory"]["peak_bytes"].opt_u64();
    if (!peak) return "peak n/a";
    std::string s = "peak " + format_bytes(*peak);
    const auto max = memory_max(suite);
    if (!max) return s + " (no memory.max)";
    return s + fmt::format(" / {} ({})", format_bytes(*max), percent_of(*peak, *max));
}

// The kernel's victim line, short: "Memory cgroup out of memory: Killed process 9912 (python3)
// anon-rss 15.1 GiB (own limit)".
std::string victim_summary(const DocField& rec) {
    std::string line = rec["victim_line"].str();
    auto cut = line.find(" total-vm:");
    if (cut != std::string::npos) line.resize(cut);
    if (line.empty()) line = fmt::format("Killed process {} ({})", rec["victim"]["pid"].u64(), rec["victim"]["comm"].str());
    return fmt::format("{} anon-rss {} ({} limit)", line, format_bytes(rec["anon_rss_kb"].u64() * 1024),
                       rec["whose_limit"].str());
}

std::vector<std::string> strings(const DocField& list) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < list.size(); ++i) out.push_back(list[i].str());
    return out;
}

// A verdict's place in the order the summary counts them (that of Verdict: the worst kinds first).
std::size_t verdict_rank(const DocField& v) {
    const std::string name = v.str();
    for (Verdict k : {Verdict::Passed, Verdict::Failed, Verdict::Signaled, Verdict::OomKilled, Verdict::Timeout,
                      Verdict::LaunchError, Verdict::Interrupted})
        if (verdict_name(k) == name) return static_cast<std::size_t>(k);
    v.fail("unknown verdict '" + name + "'");
}

// One suite in full: its line, the explanation, the first kernel records, its notes.
std::string suite_text(const DocField& s, std::size_t name_w, std::size_t peak_w) {
    std::string line = fmt::format("  {:<{}}  {:<12} {:>7}  ", s["name"].str(), name_w, s["verdict"].str(),
                                   format_seconds(s["duration_s"].num()));
    const std::string peak = compact_peak(s);
    const std::uint64_t kills = s["oom"]["kills"].u64();
    line += kills > 0 ? fmt::format("{:<{}}  OOM kills {}", peak, peak_w, kills) : peak;
    std::string out = line + "\n";
    out += "      " + s["explanation"].str() + "\n";
    // An OOM storm has hundreds of records: the first few here, all of them in report.json.
    const DocField records = s["oom"]["records"];
    for (std::size_t k = 0; k < records.size() && k < kRecordsListed; ++k)
        out += "      kernel: " + victim_summary(records[k]) + "\n";
    if (records.size() > kRecordsListed)
        out += fmt::format("      kernel: … {} more OOM records in report.json ({} without their header)\n",
                           records.size() - kRecordsListed, s["oom"]["records_without_header"].u64());
    for (const auto& n : strings(s["notes"])) out += "      note: " + n + "\n";
    return out;
}

// With more than kSummarySuitesInFull suites: "58 passed; largest peak s51 488 KiB of 64 MiB".
std::string passed_line(const std::vector<DocField>& passed) {
    std::optional<DocField> largest;
    for (const DocField& s : passed) {
        const auto peak = s["memory"]["peak_bytes"].opt_u64();
        if (peak && (!largest || *peak > *(*largest)["memory"]["peak_bytes"].opt_u64())) largest = s;
    }
    std::string line = fmt::format("  {} passed", passed.size());
    if (!largest) return line + "; no peak measured\n";
    const DocField& s = *largest;
    line += fmt::format("; largest peak {} {}", s["name"].str(), format_bytes(*s["memory"]["peak_bytes"].opt_u64()));
    const auto max = memory_max(s);
    return line + (max ? " of " + format_bytes(*max) : std::string(" (no memory.max)")) + "\n";
}

// The suite that ran batch `index` of split `name`.
DocField batch_suite(const DocField& suites, const std::string& name, std::uint64_t index, const DocField& entry) {
    for (std::size_t i = 0; i < suites.size(); ++i) {
        const DocField s = suites[i];
        const DocField split = s["split"];
        if (!split.is_null() && split["of"].str() == name && split["index"].u64() == index) return s;
    }
    entry.fail(fmt::format("no suite in /suites is batch {} of split '{}'", index, name));
}

// Per split a line with its verdict counts, the ranking's first five batches, and when every batch
// passed, that none reaches memory.max on its own, naming the largest.
std::string splits_text(const DocField& splits, const DocField& suites) {
    std::string out;
    for (std::size_t i = 0; i < splits.size(); ++i) {
        const DocField sp = splits[i];
        const std::string name = sp["name"].str();
        const std::uint64_t batches = sp["batches"].u64();
        const std::uint64_t not_run = sp["not_run"].u64();
        const DocField ranking = sp["ranking"];
        std::map<std::size_t, std::pair<std::string, std::uint64_t>> counts;  // by verdict rank
        for (std::size_t r = 0; r < ranking.size(); ++r) {
            auto& c = counts[verdict_rank(ranking[r]["verdict"])];
            c.first = ranking[r]["verdict"].str();
            ++c.second;
        }
        const auto passed_rank = static_cast<std::size_t>(Verdict::Passed);
        const bool all_passed = not_run == 0 && counts.size() == 1 && counts.count(passed_rank);
        std::string line = fmt::format("  split {}: {} batch{}", name, batches, batches == 1 ? "" : "es");
        if (all_passed) {
            line += batches == 1 ? ", which passed" : ", every one passed";
            const DocField top = ranking[0];
            const DocField largest = batch_suite(suites, name, top["index"].u64(), top);
            const auto max = memory_max(largest);
            if (max) line += fmt::format(": no single batch reaches memory.max ({}) on its own", format_bytes(*max));
            if (const auto peak = top["peak_bytes"].opt_u64())
                line += fmt::format("; the largest, {}, peaked at {}{}", items_text(strings(top["items"])),
                                    format_bytes(*peak),
                                    max ? fmt::format(" ({})", percent_of(*peak, *max)) : std::string(" (no memory.max)"));
            line += ".";
        } else {
            std::vector<std::string> parts;
            for (const auto& [rank, c] : counts)
                if (rank != passed_rank) parts.push_back(fmt::format("{} {}", c.second, c.first));
            if (counts.count(passed_rank)) parts.push_back(fmt::format("{} passed", counts[passed_rank].second));
            if (not_run > 0) parts.push_back(fmt::format("{} not run (fail_fast)", not_run));
            line += fmt::format(": {}", fmt::join(parts, ", "));
        }
        out += line + "\n";
        const std::size_t shown = std::min<std::size_t>(ranking.size(), kSummaryRanks);
        std::vector<DocField> batch;
        std::size_t name_w = 0, peak_w = 0;
        for (std::size_t r = 0; r < shown; ++r) {
            batch.push_back(batch_suite(suites, name, ranking[r]["index"].u64(), ranking[r]));
            name_w = std::max(name_w, batch.back()["name"].str().size());
            peak_w = std::max(peak_w, compact_peak(batch.back()).size());
        }
        for (std::size_t r = 0; r < shown; ++r) {
            const DocField e = ranking[r];
            out += fmt::format("    {}. {:<{}}  {:<12} {:>7}  {:<{}}  {}\n", r + 1, batch[r]["name"].str(), name_w,
                               e["verdict"].str(), format_seconds(e["duration_s"].num()), compact_peak(batch[r]),
                               peak_w, items_text(strings(e["items"])));
        }
        if (ranking.size() > shown) out += fmt::format("    … {} more in report.json's splits\n", ranking.size() - shown);
    }
    return out;
}

}  // namespace

std::string render_summary(const json& report, const std::string& report_dir, const std::string& report_file) {
    const DocField r(report);
    const DocField suites = r["suites"];
    const std::size_t n = suites.size();
    std::vector<DocField> full, passed;
    std::size_t passed_count = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const bool ok = suites[i]["verdict"].str() == verdict_name(Verdict::Passed);
        passed_count += ok;
        // Many suites: the passed ones go on one line, the others are printed in full.
        (ok && n > kSummarySuitesInFull ? passed : full).push_back(suites[i]);
    }
    std::size_t name_w = 4, peak_w = 0;
    for (const DocField& s : full) {
        name_w = std::max(name_w, s["name"].str().size());
        peak_w = std::max(peak_w, compact_peak(s).size());
    }
    std::string out = fmt::format("corral: {} suite{} in {} ({} backend)\n", n, n == 1 ? "" : "s",
                                  format_seconds(r["duration_s"].num()), r["backend"].str());
    if (!passed.empty()) out += passed_line(passed);
    for (const DocField& s : full) out += suite_text(s, name_w, peak_w);
    out += splits_text(r["splits"], suites);
    for (const auto& note : strings(r["notes"])) out += "  note: " + note + "\n";
    const DocField records = r["oom"]["records"];
    for (std::size_t i = 0; i < records.size(); ++i)
        out += "  kernel: OOM kill in corral's cgroup outside any suite: " +
               records[i]["raw"].json().dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    const std::string path = report_dir.empty() ? report_file : report_dir + "/" + report_file;
    out += fmt::format("{} passed, {} not passed — report: {}\n", passed_count, n - passed_count, path);
    return out;
}

}  // namespace corral
