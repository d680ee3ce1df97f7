#include "corral/cgroup_util.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <sstream>

#include "corral/error.hpp"
#include "corral/fd.hpp"

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

int cg_signal_procs(const std::string& dir, int sig) {
    int n = 0;
    for (pid_t p : read_cg_procs(dir))
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
    return dir_name.substr(dash + 1);
}

std::vector<std::string> list_box_dirs(const std::string& dir) {
    std::vector<std::string> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return out;
    while (dirent* e = ::readdir(d.get()))
        if (e->d_type == DT_DIR && std::string_view(e->d_name).rfind("corral-", 0) == 0) out.push_back(e->d_name);
    return out;
}

}  // namespace corral
