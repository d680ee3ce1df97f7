#include "corral/profile/split.hpp"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/profile/profile_yaml.hpp"

namespace corral {

namespace {

namespace fs = std::filesystem;

bool has_wildcard(const std::string& component) { return component.find_first_of("*?[") != std::string::npos; }

std::string join_rel(const std::string& rel, const std::string& name) { return rel.empty() ? name : rel + "/" + name; }

// Adds to `out` what pattern components [i, end) match below `dir` (whose path relative to the base is `rel`).
void walk(const fs::path& dir, const std::string& rel, const std::vector<std::string>& pat, std::size_t i,
          std::set<std::string>& out) {
    if (i == pat.size()) {
        if (!rel.empty()) out.insert(rel);
        return;
    }
    const std::string& c = pat[i];
    const bool last = i + 1 == pat.size();
    std::error_code ec;
    if (c == "**") {
        walk(dir, rel, pat, i + 1, out);  // no directory at all
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            std::error_code type_ec;
            if (name[0] != '.' && it->is_directory(type_ec) && !it->is_symlink(type_ec))
                walk(it->path(), join_rel(rel, name), pat, i, out);
        }
        return;
    }
    if (!has_wildcard(c)) {  // a plain name (or ".."): no need to list the directory
        const fs::path p = dir / c;
        if (last ? fs::exists(fs::symlink_status(p, ec)) : fs::is_directory(p, ec)) walk(p, join_rel(rel, c), pat, i + 1, out);
        return;
    }
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (::fnmatch(c.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
        std::error_code type_ec;
        if (last || it->is_directory(type_ec)) walk(it->path(), join_rel(rel, name), pat, i + 1, out);
    }
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string::npos) return "";
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

}  // namespace

std::vector<std::string> glob_paths(const std::string& pattern, const std::string& dir) {
    const bool absolute = !pattern.empty() && pattern[0] == '/';
    std::vector<std::string> pat;
    std::istringstream in(pattern);
    for (std::string c; std::getline(in, c, '/');) {
        if (c.empty() || c == ".") continue;
        if (c == "**" && !pat.empty() && pat.back() == "**") continue;
        pat.push_back(c);
    }
    if (pat.empty()) return {};
    if (pat.back() == "**") pat.push_back("*");  // "tests/**": everything below tests
    std::set<std::string> found;
    walk(absolute ? fs::path("/") : fs::path(dir), "", pat, 0, found);
    std::vector<std::string> out;
    for (const std::string& p : found) out.push_back(absolute ? "/" + p : p);
    return out;
}

std::vector<std::string> resolve_split_items(const SplitRequest& req, const std::string& dir,
                                             const std::string& from_dir) {
    std::vector<std::string> items;
    std::string none;  // what was searched, when nothing was found
    switch (req.kind) {
        case SplitRequest::Kind::Glob: {
            items = glob_paths(req.pattern, dir);
            std::error_code ec;
            const bool absolute = !req.pattern.empty() && req.pattern[0] == '/';
            none = fmt::format("no file or directory matches '{}' in {}{}", req.pattern, absolute ? "/" : dir,
                               absolute || fs::is_directory(dir, ec) ? "" : " (no such directory)");
            break;
        }
        case SplitRequest::Kind::List:
            items = req.list;
            none = "expected at least one item, found an empty list";
            break;
        case SplitRequest::Kind::From: {
            const fs::path file = fs::path(from_dir) / req.from;
            std::string text;
            try {
                text = read_file(file.string());
            } catch (const SysError& e) {
                throw ProfileError(req.where, req.key,
                                   fmt::format("cannot read the items file {}: {}", file.string(), errno_text(e.code())));
            }
            std::istringstream in(text);
            for (std::string line; std::getline(in, line);)
                if (std::string item = trim(line); !item.empty() && item[0] != '#') items.push_back(item);
            none = fmt::format("no items in {} (blank lines and lines starting with '#' are skipped)", file.string());
            break;
        }
    }
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    if (items.empty()) throw ProfileError(req.where, req.key, none);
    return items;
}

std::string batch_name(const std::string& name, std::size_t k, std::size_t batches) {
    const std::size_t width = std::to_string(std::max<std::size_t>(batches, 1)).size();
    return fmt::format("{}.{:0{}}", name, k, width);
}

std::vector<std::string> batch_argv(const SuiteSpec& s, const std::string& name,
                                    const std::vector<std::string>& items) {
    std::vector<std::string> argv = s.argv;
    if (s.shell) argv.push_back(name);  // sh -c TEXT $0 $1 …: the items are "$@"
    argv.insert(argv.end(), items.begin(), items.end());
    return argv;
}

std::vector<SuiteSpec> expand_split(const SuiteSpec& s, const std::vector<std::string>& items,
                                    std::size_t batch, bool fail_fast) {
    batch = std::max<std::size_t>(batch, 1);
    const std::size_t batches = (items.size() + batch - 1) / batch;
    std::vector<SuiteSpec> out;
    for (std::size_t k = 1; k <= batches; ++k) {
        SuiteSpec b = s;
        const auto first = items.begin() + static_cast<std::ptrdiff_t>((k - 1) * batch);
        const auto last = items.begin() + static_cast<std::ptrdiff_t>(std::min(k * batch, items.size()));
        b.name = batch_name(s.name, k, batches);
        b.split = SplitBatch{s.name, k, batches, std::vector<std::string>(first, last), fail_fast};
        b.argv = batch_argv(s, b.name, b.split->items);
        b.command_text = s.shell ? quote_argv(b.argv) : s.command_text + " " + quote_argv(b.split->items);
        try {
            validate_suite(b);
        } catch (const UsageError& e) {
            throw ProfileError(s.where, "split", fmt::format("batch {}: {}", b.name, e.what()));
        }
        out.push_back(std::move(b));
    }
    return out;
}

}  // namespace corral

namespace corral::profile_yaml {

SplitRequest read_split(const Ctx& ctx, const Found& f) {
    if (!f.value.IsMap()) ctx.expected(f, "a map {items: GLOB | [list] | {from: FILE}, batch: N, fail_fast: bool}");
    SplitRequest req;
    const auto items = find(f.value, "items", f.path);
    if (!items)
        ctx.fail(f.value, join_path(f.path, "items"), "missing key 'items': expected a glob, a list or {from: FILE}");
    req.key = items->path;
    req.where = ctx.loc(items->value.IsNull() ? items->key : items->value);
    if (items->value.IsSequence()) {
        req.kind = SplitRequest::Kind::List;
        for (std::size_t i = 0; i < items->value.size(); ++i) {
            const Found item{items->value[i], items->value[i], fmt::format("{}[{}]", items->path, i)};
            req.list.push_back(ctx.scalar(item, "an item (a string)"));
            if (req.list.back().empty()) ctx.fail(item, "expected an item, found an empty string");
        }
    } else if (items->value.IsMap()) {
        ctx.check_keys(items->value, items->path, {"from"});
        const auto from = find(items->value, "from", items->path);
        if (!from) ctx.fail(items->value, join_path(items->path, "from"), "missing key 'from': expected a file of items");
        req.kind = SplitRequest::Kind::From;
        req.from = ctx.scalar(*from, "a file name");
        if (req.from.empty()) ctx.fail(*from, "expected a file name, found an empty string");
        req.key = from->path;
        req.where = ctx.loc(from->value);
    } else {
        req.pattern = ctx.scalar(*items, "a glob, a list of items or {from: FILE}");
        if (req.pattern.empty()) ctx.fail(*items, "expected a glob such as 'tests/**/test_*.py', found an empty string");
    }
    if (const auto batch = find(f.value, "batch", f.path)) {
        req.batch = ctx.count(*batch);
        if (req.batch == 0) ctx.fail(*batch, "expected a positive integer, found 0");
    }
    if (const auto fail_fast = find(f.value, "fail_fast", f.path)) req.fail_fast = ctx.boolean(*fail_fast);
    return req;
}

}  // namespace corral::profile_yaml
