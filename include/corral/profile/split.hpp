// `split`: each test file alone. Resolves the items of a suite's `split` key (a glob with `**`, a
// list, or a file of items) and makes a suite of each batch of them: `<name>.<k>`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "corral/profile/profile.hpp"

namespace corral {

// The `split` key as written in a profile (or given by --split on the command line).
struct SplitRequest {
    enum class Kind { Glob, List, From };
    Kind kind = Kind::Glob;
    std::string pattern;            // Glob: resolved against the suite's working directory
    std::vector<std::string> list;  // List: taken as written (test ids, packages: not only files)
    std::string from;               // From: a file with one item a line; relative to the profile's directory
    std::size_t batch = 1;          // items per batch
    bool fail_fast = false;
    SourceLoc where;                 // the items value, for errors
    std::string key = "split.items";  // its key path, for errors
};

// The files and directories below `dir` that `pattern` matches, as paths relative to `dir` (an
// absolute pattern gives absolute paths), sorted bytewise, each once. Components are matched by
// fnmatch(3) with FNM_PERIOD (a '*' does not match a leading '.'); a `**` component matches any number
// of directories, none of them hidden, symbolic links to directories not followed; a pattern ending in
// `**` matches everything below. Directories that cannot be read are passed over.
std::vector<std::string> glob_paths(const std::string& pattern, const std::string& dir);

// The request's items, sorted, each once: the glob's matches below `dir`, the list, or the lines of
// `from` (resolved against `from_dir`; blank lines and lines starting with '#' skipped, spaces around
// an item trimmed). No item, or an unreadable file, is a ProfileError at req.where that names the
// pattern and the directory searched (or the file).
std::vector<std::string> resolve_split_items(const SplitRequest& req, const std::string& dir,
                                             const std::string& from_dir);

// "<name>.<k>", k zero-padded to the width of `batches` (10 batches: .01 … .10).
std::string batch_name(const std::string& name, std::size_t k, std::size_t batches);

// The argv of a batch: a list command gets the items appended; a string command (`s.shell`,
// {"/bin/sh", "-c", text}) gets them as its positional parameters, "$@", after `name` as its $0.
std::vector<std::string> batch_argv(const SuiteSpec& s, const std::string& name,
                                    const std::vector<std::string>& items);

// One suite per `batch` items, in order: `s` with its name, argv, command_text and split set. A batch
// name longer than a suite name may be is a ProfileError at s.where.
std::vector<SuiteSpec> expand_split(const SuiteSpec& s, const std::vector<std::string>& items,
                                    std::size_t batch, bool fail_fast);

}  // namespace corral
