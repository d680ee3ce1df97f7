#include "corral/report/junit.hpp"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "corral/base/error.hpp"
#include "corral/report/output_tail.hpp"

namespace corral {

using nlohmann::json;

namespace {

// One UTF-8 character at s[i]: its code point and length, or length 0 for an invalid sequence
// (overlong forms and surrogates included).
std::pair<char32_t, std::size_t> decode_utf8(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return {b0, 1};
    std::size_t len = 0;
    char32_t cp = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
    else return {0, 0};
    if (i + len > s.size()) return {0, 0};
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return {0, 0};
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
    return {cp, len};
}

bool xml_allowed(char32_t c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

// A field of the report, or Error naming it.
const json& need(const json& j, const char* key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end()) throw Error(fmt::format("the report has no '{}' in {}", key, where));
    return *it;
}

std::string str_of(const json& j, const char* key, const std::string& where) {
    const json& v = need(j, key, where);
    if (!v.is_string()) throw Error(fmt::format("the report's '{}' in {} is not a string", key, where));
    return v.get<std::string>();
}

// A property value: numbers as written, "infinity" as it is, null as "" (unknown or none).
std::string value_text(const json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

// "2026-11-29T17:28:39Z" → "2026-11-29T17:28:39": the format's timestamp has no time zone (UTC here).
std::string junit_timestamp(const std::string& started_at) {
    const bool ok = started_at.size() == 20 && started_at[4] == '-' && started_at[7] == '-' &&
                    started_at[10] == 'T' && started_at[13] == ':' && started_at[16] == ':' && started_at[19] == 'Z';
    if (!ok) throw Error("the report's started_at '" + started_at + "' is not UTC ISO-8601 (YYYY-MM-DDTHH:MM:SSZ)");
    return started_at.substr(0, 19);
}

enum class Outcome { Passed, Failure, Error };

Outcome outcome_of(const std::string& verdict) {
    if (verdict == "passed") return Outcome::Passed;
    if (verdict == "launch-error") return Outcome::Error;
    if (verdict == "failed" || verdict == "oom-killed" || verdict == "timeout" || verdict == "signaled" ||
        verdict == "interrupted")
        return Outcome::Failure;
    throw Error("the report has an unknown verdict '" + verdict + "'");
}

// A line corral adds to a stream's element (part of a testcase's fixed bound).
constexpr std::size_t kNoteBytes = 512;

std::string fmt_time(double s) { return fmt::format("{:.3f}", s < 0 ? 0.0 : s); }

struct Case {
    std::string xml;
    double time = 0;
    Outcome outcome = Outcome::Passed;
    bool skipped = false;
};

struct SuiteGroup {
    std::string name, classname;  // the profile as given and its stem
    std::vector<Case> cases;
};

// <system-out>/<system-err>: the stream's tail, or why it could not be read.
std::string stream_element(const char* tag, const json& file, const std::filesystem::path& dir, std::size_t cap) {
    if (file.is_null()) return "";  // never started: no output file
    if (!file.is_string()) throw Error(std::string("the report's suite ") + tag + " field is not a string");
    const std::string name = file.get<std::string>();
    const std::string path = (dir / name).string();
    std::string body;
    try {
        OutputTail tail = read_output_tail(path, cap);
        const std::string clean = strip_ansi(tail.text);
        const std::string text = xml_escape_capped(clean, cap, false, true);
        // What escaping made too long and was cut from the tail is left out too.
        if (tail.skipped > 0 || xml_escape(clean).size() > cap) {
            body = xml_escape_capped(
                fmt::format("[corral: the start of this stream is left out here, {} has all of it]", name), kNoteBytes);
            body += "\n";
        }
        body += text;
    } catch (const Error& e) {
        body = xml_escape_capped(fmt::format("[corral: {}]", e.what()), kNoteBytes);
    }
    return fmt::format("      <{0}>{1}</{0}>\n", tag, body);
}

}  // namespace

std::string xml_escape(std::string_view text, bool attr) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        auto [cp, len] = decode_utf8(text, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is no UTF-8
            ++i;
            continue;
        }
        const std::string_view ch = text.substr(i, len);
        i += len;
        if (!xml_allowed(cp)) continue;
        switch (cp) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += attr ? "&quot;" : "\""; break;
            case '\t': out += attr ? "&#9;" : "\t"; break;
            case '\n': out += attr ? "&#10;" : "\n"; break;
            case '\r': out += "&#13;"; break;  // a parser would turn a literal CR into LF
            default: out += ch;
        }
    }
    return out;
}

std::string xml_escape_capped(std::string_view text, std::size_t max_bytes, bool attr, bool keep_end) {
    std::string out = xml_escape(text, attr);
    if (out.size() <= max_bytes) return out;
    // A cut never falls inside a character (continuation bytes) or an entity (& … ;).
    auto inside_entity = [&](std::size_t pos) {
        for (std::size_t k = pos; k > 0 && pos - k < 8;) {
            --k;
            if (out[k] == ';') return false;
            if (out[k] == '&') return true;
        }
        return false;
    };
    auto continuation = [&](std::size_t pos) {
        return pos < out.size() && (static_cast<unsigned char>(out[pos]) & 0xC0) == 0x80;
    };
    if (keep_end) {
        std::size_t cut = out.size() - max_bytes;
        while (cut < out.size() && (continuation(cut) || inside_entity(cut))) ++cut;
        return out.substr(cut);
    }
    const std::string ellipsis = "\xE2\x80\xA6";  // …
    if (max_bytes < ellipsis.size()) return "";
    std::size_t cut = max_bytes - ellipsis.size();
    while (cut > 0 && (continuation(cut) || inside_entity(cut))) --cut;
    return out.substr(0, cut) + ellipsis;
}

JunitCaps junit_caps(std::size_t testcases, std::size_t testsuites) {
    JunitCaps caps;
    const std::size_t fixed = kJunitFileFixedBytes + testsuites * kJunitSuiteFixedBytes + testcases * kJunitCaseFixedBytes;
    if (fixed > kJunitMaxFileBytes)
        throw Error(fmt::format("{} testcases cannot fit one junit.xml under {} bytes (GitLab's limit is 30 MB)",
                                testcases, kJunitMaxFileBytes));
    if (testcases == 0) return caps;
    // Two streams a testcase; a tail's note ("the start is left out") is part of the fixed bound.
    const std::size_t share = (kJunitMaxFileBytes - fixed) / (2 * testcases);
    if (share < caps.tail) {
        caps.tail = share;
        caps.shrunk = true;
    }
    return caps;
}

std::string render_junit(const json& report, const std::filesystem::path& dir) {
    const json& suites = need(report, "suites", "the run");
    const std::string host = str_of(report, "host", "the run");
    const std::string timestamp = junit_timestamp(str_of(report, "started_at", "the run"));

    // Testcases: every suite, and every split batch fail_fast kept from running.
    std::size_t testcases = suites.size();
    if (auto sp = report.find("splits"); sp != report.end())
        for (const json& s : *sp) testcases += s.value("not_run_batches", json::array()).size();
    std::vector<SuiteGroup> groups;
    std::map<std::string, std::size_t> group_of;          // profile (or "" ad hoc) → groups index
    std::map<std::string, std::string> profile_of_split;  // split name → its batches' profile
    for (const json& s : suites) {
        const std::string name = str_of(s, "name", "a suite");
        const json& profile = need(s, "profile", "suite '" + name + "'");
        const std::string key = profile.is_null() ? "" : profile.get<std::string>();
        if (!group_of.count(key)) {
            group_of[key] = groups.size();
            if (key.empty())
                groups.push_back({"command line", "command-line", {}});
            else
                groups.push_back({key, std::filesystem::path(key).stem().string(), {}});
        }
        if (auto sp = s.find("split"); sp != s.end() && sp->is_object()) profile_of_split[sp->value("of", "")] = key;
    }
    const JunitCaps caps = junit_caps(testcases, groups.size());

    for (const json& s : suites) {
        const std::string name = str_of(s, "name", "a suite");
        const std::string where = "suite '" + name + "'";
        const json& profile = need(s, "profile", where);
        SuiteGroup& g = groups[group_of[profile.is_null() ? "" : profile.get<std::string>()]];
        const std::string verdict = str_of(s, "verdict", where);
        const std::string explanation = str_of(s, "explanation", where);
        Case c;
        c.outcome = outcome_of(verdict);
        c.time = need(s, "duration_s", where).get<double>();
        const json& limits = need(s, "limits", where);
        const json& memory = need(s, "memory", where);
        const json& oom = need(s, "oom", where);
        std::string x = fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">\n",
                                    xml_escape_capped(name, caps.name, true), xml_escape_capped(g.classname, caps.name, true),
                                    fmt_time(c.time));
        x += "      <properties>\n";
        const std::pair<const char*, std::string> props[] = {
            {"corral.verdict", verdict},
            {"corral.peak_bytes", value_text(need(memory, "peak_bytes", where))},
            {"corral.memory_max_bytes", value_text(need(limits, "memory_max_bytes", where))},
            {"corral.oom_kills", value_text(need(oom, "kills", where))},
            {"corral.exit_code", value_text(need(s, "exit_code", where))},
            {"corral.backend", value_text(need(s, "backend", where))},
        };
        for (const auto& [k, v] : props)
            x += fmt::format("        <property name=\"{}\" value=\"{}\"/>\n", k, xml_escape_capped(v, caps.name, true));
        x += "      </properties>\n";
        if (c.outcome != Outcome::Passed) {
            std::string body = explanation;
            for (const json& n : s.value("notes", json::array()))
                if (n.is_string()) body += "\nnote: " + n.get<std::string>();
            x += fmt::format("      <{0} message=\"{1}\" type=\"{2}\">{3}</{0}>\n",
                             c.outcome == Outcome::Error ? "error" : "failure",
                             xml_escape_capped(explanation, caps.message, true), xml_escape(verdict, true),
                             xml_escape_capped(body, caps.body));
        }
        x += stream_element("system-out", need(s, "stdout", where), dir, caps.tail);
        x += stream_element("system-err", need(s, "stderr", where), dir, caps.tail);
        x += "    </testcase>\n";
        c.xml = std::move(x);
        g.cases.push_back(std::move(c));
    }
    if (auto sp = report.find("splits"); sp != report.end()) {
        for (const json& split : *sp) {
            const std::string of = str_of(split, "name", "a split");
            for (const json& b : split.value("not_run_batches", json::array())) {
                auto it = profile_of_split.find(of);
                if (it == profile_of_split.end())
                    throw Error("the report's split '" + of + "' has batches not run but none that ran");
                SuiteGroup& g = groups[group_of[it->second]];
                Case c;
                c.skipped = true;
                const std::string name = fmt::format("{}.{}", of, need(b, "index", "split '" + of + "'").get<long>());
                c.xml = fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"0.000\">\n"
                                    "      <skipped message=\"not run: split fail_fast, an earlier batch did not pass\"/>\n"
                                    "    </testcase>\n",
                                    xml_escape_capped(name, caps.name, true), xml_escape_capped(g.classname, caps.name, true));
                g.cases.push_back(std::move(c));
            }
        }
    }

    std::string body;
    std::size_t all_tests = 0, all_failures = 0, all_errors = 0, all_skipped = 0;
    for (const SuiteGroup& g : groups) {
        std::size_t failures = 0, errors = 0, skipped = 0;
        double time = 0;
        for (const Case& c : g.cases) {
            failures += c.outcome == Outcome::Failure;
            errors += c.outcome == Outcome::Error;
            skipped += c.skipped;
            time += c.time;
        }
        all_tests += g.cases.size();
        all_failures += failures;
        all_errors += errors;
        all_skipped += skipped;
        body += fmt::format(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" "
            "timestamp=\"{}\" hostname=\"{}\">\n",
            xml_escape_capped(g.name, caps.name, true), g.cases.size(), failures, errors, skipped, fmt_time(time),
            timestamp, xml_escape_capped(host, caps.name, true));
        for (const Case& c : g.cases) body += c.xml;
        body += "  </testsuite>\n";
    }
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += fmt::format("<!-- corral: timestamps are UTC. Each system-out/system-err holds the end of the stream, "
                       "at most {} bytes; the report directory's files have all of it. -->\n",
                       caps.tail);
    if (caps.shrunk)
        out += fmt::format("<!-- {} testcases: the tails are cut to {} bytes (instead of {}) to keep this file under "
                           "{} bytes (GitLab takes less than 30 MB). -->\n",
                           testcases, caps.tail, kJunitTailBytes, kJunitMaxFileBytes);
    out += fmt::format("<testsuites name=\"corral\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
                       all_tests, all_failures, all_errors, all_skipped,
                       fmt_time(need(report, "duration_s", "the run").get<double>()));
    out += body;
    out += "</testsuites>\n";
    return out;
}

}  // namespace corral
