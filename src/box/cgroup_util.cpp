#include "corral/box/cgroup_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <set>
#include <sstream>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/base/proc_stat.hpp"

namespace corral {

std::optional<std::uint64_t> read_cg_u64(const std::string& path) {
    std::string text = read_file(path);
    if (text.rfind("max", 0) == 0) return std::nullopt;
    try {
        return std::stoull(text);
    } catch (const std::exception&) {
        throw Error("read " + path + ": expected a number, found '" + text.substr(0, 40) + "'");
    }
}

std::map<std::string, std::uint64_t> read_cg_keyed(const std::string& path) {
    std::map<std::string, std::uint64_t> out;
    std::istringstream in(read_file(path));
    std::string key, value;
    while (in >> key >> value) {
        try {
            out[key] = std::stoull(value);
        } catch (const std::exception&) {
            // non-numeric values ("max") are not counters: skip them
        }
    }
    return out;
}

PressureSample parse_pressure(const std::string& text) {
    PressureSample p;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string kind, field;
        ls >> kind;
        bool some = kind == "some";
        if (!some && kind != "full") continue;
        while (ls >> field) {
            auto eq = field.find('=');
            if (eq == std::string::npos) continue;
            std::string k = field.substr(0, eq), v = field.substr(eq + 1);
            try {
                if (k == "avg10") (some ? p.some_avg10 : p.full_avg10) = std::stod(v);
                if (k == "total") (some ? p.some_total_us : p.full_total_us) = std::stoull(v);
            } catch (const std::exception&) {
            }
        }
    }
    return p;
}

std::vector<pid_t> read_cg_procs(const std::string& dir) {
    std::vector<pid_t> pids;
    auto text = read_file_if_exists(dir + "/cgroup.procs");
    if (!text) return pids;
    std::istringstream in(*text);
    pid_t p;
    while (in >> p) pids.push_back(p);
    return pids;
}

namespace {
void collect_procs(const std::string& dir, std::vector<pid_t>& out, int depth) {
    for (pid_t p : read_cg_procs(dir)) out.push_back(p);
    if (depth > 32) return;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return;
    while (dirent* e = ::readdir(d.get()))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') collect_procs(dir + "/" + e->d_name, out, depth + 1);
}
}  // namespace

std::vector<pid_t> cg_tree_procs(const std::string& dir) {
    std::vector<pid_t> out;
    collect_procs(dir, out, 0);
    return out;
}

void cg_enter(const std::string& dir, pid_t pid) { write_file(dir + "/cgroup.procs", std::to_string(pid)); }

void cg_remove_tree(const std::string& dir) {
    for (const auto& sub : [&] {
             std::vector<std::string> subs;
             std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
             if (!d) return subs;
             while (dirent* e = ::readdir(d.get()))
                 if (e->d_type == DT_DIR && e->d_name[0] != '.') subs.push_back(dir + "/" + e->d_name);
             return subs;
         }())
        cg_remove_tree(sub);
    if (::rmdir(dir.c_str()) < 0 && errno != ENOENT) throw_errno("rmdir " + dir);
}

int cg_signal_tree(const std::string& dir, int sig) {
    int n = 0;
    for (pid_t p : cg_tree_procs(dir))
        if (::kill(p, sig) == 0) ++n;
    return n;
}

std::string box_dir_name(const std::string& suite, const std::string& run_id) {
    return "corral-" + suite + "-" + run_id;
}

std::string run_id_of_box(const std::string& dir_name) {
    if (dir_name.rfind("corral-", 0) != 0) return "";
    auto dash = dir_name.rfind('-');
    if (dash == std::string::npos || dash < 7) return "";
    std::string id = dir_name.substr(dash + 1);
    // Run ids are lower-case hex: "corral-launcher" (the v2 launcher leaf) is not a box.
    if (id.empty() || id.find_first_not_of("0123456789abcdef") != std::string::npos) return "";
    return id;
}

std::vector<std::string> list_box_dirs(const std::string& dir) {
    std::vector<std::string> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return out;
    while (dirent* e = ::readdir(d.get()))
        if (e->d_type == DT_DIR && std::string_view(e->d_name).rfind("corral-", 0) == 0) out.push_back(e->d_name);
    return out;
}

std::string cgroup_advice(int err, const std::string& path) {
    switch (err) {
        case EROFS:
            return fmt::format(
                "{} is on a read-only cgroup filesystem: run in a privileged container or mount a writable "
                "cgroupfs (or use the systemd backend; --allow-unboxed runs without limits)",
                path);
        case EACCES:
        case EPERM:
            return fmt::format(
                "no permission to create cgroups under {}: run as root, or delegate this cgroup to your user "
                "(or use the systemd backend; --allow-unboxed runs without limits)",
                path);
        case ENOENT:
            return fmt::format("{} does not exist: the controller is not available there", path);
        default:
            return "";
    }
}

// Creates dir, turning the common kernel answers into advice.
void cg_make(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) == 0) return;
    int err = errno;
    std::string advice = cgroup_advice(err, dir.substr(0, dir.rfind('/')));
    if (!advice.empty()) throw SysError(SysError::Preformatted{}, "mkdir " + dir + ": " + errno_text(err) + ": " + advice, err);
    throw_errno("mkdir " + dir, err);
}

// Reads "populated" through the watched fd itself: kernfs keeps signalling EPOLLPRI on an fd until
// that fd has read the file's new contents.
bool cg_events_populated(int fd) {
    char buf[256];
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0) throw_errno("read cgroup.events");
    buf[n] = '\0';
    const char* p = std::strstr(buf, "populated ");
    return p && p[10] == '1';
}


bool compat_disabled(const std::string& feature) {
    static const std::string list = [] {
        const char* v = std::getenv("CORRAL_COMPAT");
        return "," + std::string(v ? v : "") + ",";
    }();
    return list.find("," + feature + ",") != std::string::npos || list.find(",old-kernel,") != std::string::npos;
}

// "4242 (sleep, state D), 4250 (sh, state S)" for a message about processes: the first five.
std::string describe_procs(const std::vector<pid_t>& pids) {
    std::string out;
    std::size_t shown = 0;
    for (pid_t p : pids) {
        if (shown++ == 5) {
            out += fmt::format(" and {} more", pids.size() - 5);
            break;
        }
        auto st = parse_proc_stat(read_file_if_exists(fmt::format("/proc/{}/stat", p)).value_or(""));
        out += fmt::format("{}{} ({}, state {})", out.empty() ? "" : ", ", p, st ? st->comm : "?", st ? st->state : '?');
    }
    return out;
}


TreeTarget box_kill_target(const std::string& unified_dir, const std::string& v1_freezer_dir,
                           const std::string& v1_memory_dir) {
    TreeTarget t;
    t.procs_dir = unified_dir.empty() ? v1_memory_dir : unified_dir;
    if (!unified_dir.empty() && !compat_disabled("no-cgroup-kill") && path_exists(unified_dir + "/cgroup.kill"))
        t.kill_file = unified_dir + "/cgroup.kill";
    if (!v1_freezer_dir.empty()) {
        t.freeze_dir = v1_freezer_dir;
        t.v1_freezer = true;
        t.thaw_v1 = {v1_freezer_dir};
    } else if (!unified_dir.empty() && path_exists(unified_dir + "/cgroup.freeze")) {
        t.freeze_dir = unified_dir;
    }
    return t;
}

namespace {

// Kills and removes one stale box (every hierarchy of the name). Another launcher may be removing
// the same box at the same time: what is gone already (ENOENT) is as good as removed.
void remove_stale_box(const BoxParents& parents, const std::string& name, const std::string& id, StaleCleanup& out) {
    auto in = [&](const std::string& parent) {
        return !parent.empty() && path_exists(parent + "/" + name) ? parent + "/" + name : std::string();
    };
    TreeKill kill(box_kill_target(in(parents.unified), in(parents.freezer), in(parents.memory)));
    const std::string procs_dir = in(parents.unified).empty() ? in(parents.memory) : in(parents.unified);
    const std::size_t found = procs_dir.empty() ? 0 : cg_tree_procs(procs_dir).size();
    std::vector<std::string> notes;
    bool empty = true;
    try {
        empty = procs_dir.empty() || kill.run_until_empty(std::chrono::seconds(2), notes);
    } catch (const SysError& e) {
        if (e.code() != ENOENT) throw;  // removed under our feet: by another launcher
    }
    std::string error;
    if (empty) {
        for (const auto& parent : parents.dirs) {
            if (const std::string dir = in(parent); !dir.empty()) {
                try {
                    cg_remove_tree(dir);  // ENOENT: another launcher removed it first, which is as good
                } catch (const Error& e) {
                    if (error.empty()) error = e.what();
                }
            }
        }
    }
    const std::string where = parents.dirs.empty() ? name : parents.dirs.front() + "/" + name;
    if (empty && error.empty()) {
        out.messages.push_back(fmt::format("removed stale box {} left by a launcher that is gone{}", where,
                                           found ? fmt::format(" (killed {} process{})", found, found == 1 ? "" : "es") : ""));
        out.cleared.insert(id);
    } else {
        std::string why = !empty ? fmt::format("its processes did not end within 2s of SIGKILL: {}",
                                               describe_procs(cg_tree_procs(procs_dir)))
                                 : error;
        out.messages.push_back(fmt::format("stale box {} of a launcher that is gone could not be removed yet ({}); "
                                           "a later run tries again",
                                           where, why));
        out.remaining.insert(id);
    }
    for (auto& n : notes) out.messages.push_back(std::move(n));
}

}  // namespace

StaleCleanup cg_remove_stale_boxes(const BoxParents& parents, const std::string& own_run_id, const LauncherGone& gone) {
    StaleCleanup out;
    std::set<std::string> names;
    for (const auto& parent : parents.dirs)
        for (auto& name : list_box_dirs(parent)) names.insert(std::move(name));
    for (const auto& name : names) {
        const std::string id = run_id_of_box(name);
        if (id.empty() || id == own_run_id || !gone(id)) continue;
        try {
            remove_stale_box(parents, name, id, out);
        } catch (const std::exception& e) {
            // Never fail a new run for an old box: say what happened, try again on a later run.
            out.messages.push_back(fmt::format("stale box {} of a launcher that is gone could not be removed yet ({}); "
                                               "a later run tries again",
                                               name, e.what()));
            out.remaining.insert(id);
        }
    }
    return out;
}

}  // namespace corral
