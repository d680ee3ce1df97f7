#include "corral/box/cgroup_paths.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <functional>
#include <sstream>

#include "corral/base/fd.hpp"
#include "corral/box/cgroup_util.hpp"

namespace corral {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    if (!s.empty() && s.back() == sep) out.emplace_back();
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(s[i + 1]) &&
            std::isdigit(s[i + 2]) && std::isdigit(s[i + 3])) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

std::string join_path(const std::string& a, const std::string& b) {
    if (b.empty() || b == "/") return a;
    if (!a.empty() && a.back() == '/') return a + (b.front() == '/' ? b.substr(1) : b);
    return a + (b.front() == '/' ? b : "/" + b);
}

}  // namespace

std::vector<ProcCgroup> parse_proc_cgroup(const std::string& text) {
    std::vector<ProcCgroup> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto c1 = line.find(':');
        auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        ProcCgroup pc;
        try {
            pc.id = std::stoi(line.substr(0, c1));
        } catch (...) {
            continue;
        }
        std::string ctrls = line.substr(c1 + 1, c2 - c1 - 1);
        if (!ctrls.empty()) pc.controllers = split(ctrls, ',');
        pc.path = line.substr(c2 + 1);
        out.push_back(std::move(pc));
    }
    return out;
}

std::vector<CgroupMount> parse_mountinfo_cgroups(const std::string& text) {
    std::vector<CgroupMount> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::vector<std::string> f;
        std::string w;
        while (ls >> w) f.push_back(w);
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 6 || dash == f.end() || std::distance(dash, f.end()) < 3) continue;
        const std::string& fstype = *(dash + 1);
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        CgroupMount m;
        m.root = unescape_octal(f[3]);
        m.mountpoint = unescape_octal(f[4]);
        m.fstype = fstype;
        m.options = split(*(dash + 3), ',');
        m.read_only = contains(split(f[5], ','), "ro");
        out.push_back(std::move(m));
    }
    return out;
}

int mount_root_ups(const std::string& root) {
    int ups = 0;
    for (const auto& part : split(root, '/')) {
        if (part == "..")
            ++ups;
        else if (!part.empty())
            break;
    }
    return ups;
}

std::optional<std::string> map_cgroup_path(const CgroupMount& m, const std::string& cgroup_path) {
    if (mount_root_ups(m.root) > 0) return std::nullopt;
    std::string root = m.root == "/" ? "" : m.root;
    if (!root.empty() && root.back() == '/') root.pop_back();
    if (root.empty()) return join_path(m.mountpoint, cgroup_path);
    // The mount shows a subtree: the cgroup must lie inside it.
    if (cgroup_path == root) return m.mountpoint;
    if (cgroup_path.rfind(root + "/", 0) == 0) return join_path(m.mountpoint, cgroup_path.substr(root.size()));
    return std::nullopt;
}

std::optional<std::string> find_own_cgroup_dir(const CgroupMount& m, const std::string& cgroup_path, pid_t pid) {
    if (auto direct = map_cgroup_path(m, cgroup_path)) {
        return *direct;
    }
    int ups = mount_root_ups(m.root);
    if (ups == 0) return std::nullopt;
    // The namespace root is `ups` levels below the mount's root: look for the directory at that
    // depth under which cgroup_path holds our pid.
    std::function<std::optional<std::string>(const std::string&, int)> walk =
        [&](const std::string& dir, int depth) -> std::optional<std::string> {
        if (depth == 0) {
            std::string cand = join_path(dir, cgroup_path);
            if (std::ranges::count(read_cg_procs(cand), pid) > 0) return cand;
            return std::nullopt;
        }
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d) return std::nullopt;
        while (dirent* e = ::readdir(d.get())) {
            if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
            if (auto hit = walk(dir + "/" + e->d_name, depth - 1)) return hit;
        }
        return std::nullopt;
    };
    return walk(m.mountpoint, ups);
}

std::string kernel_cgroup_path(const Hierarchy& h) {
    std::string rel = h.own_dir.substr(std::min(h.own_dir.size(), h.mount.mountpoint.size()));
    std::string root = mount_root_ups(h.mount.root) > 0 || h.mount.root == "/" ? "" : h.mount.root;
    std::string path = root + rel;
    return path == "/" ? "" : path;
}

std::string cgroup_mode_name(CgroupMode m) {
    switch (m) {
        case CgroupMode::None: return "none";
        case CgroupMode::Legacy: return "legacy";
        case CgroupMode::Hybrid: return "hybrid";
        case CgroupMode::Unified: return "unified";
    }
    return "?";
}

const Hierarchy* CgroupLayout::find(const std::string& controller) const {
    for (const auto& h : v1)
        if (h.controller == controller) return &h;
    return nullptr;
}

CgroupLayout detect_layout() {
    CgroupLayout layout;
    auto procs = parse_proc_cgroup(read_file("/proc/self/cgroup"));
    auto mounts = parse_mountinfo_cgroups(read_file("/proc/self/mountinfo"));
    pid_t self = ::getpid();
    static const char* wanted[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
    for (const auto& pc : procs) {
        if (pc.id == 0) {
            for (const auto& m : mounts) {
                if (m.fstype != "cgroup2") continue;
                if (auto dir = find_own_cgroup_dir(m, pc.path, self)) {
                    layout.unified = Hierarchy{"", m, *dir};
                    break;
                }
            }
            continue;
        }
        for (const char* want : wanted) {
            if (!contains(pc.controllers, want)) continue;
            for (const auto& m : mounts) {
                if (m.fstype != "cgroup" || !contains(m.options, want)) continue;
                bool seen = std::any_of(layout.v1.begin(), layout.v1.end(),
                                        [&](const Hierarchy& h) { return h.mount.mountpoint == m.mountpoint; });
                if (seen) break;  // cpu,cpuacct mounted together: one directory serves both
                if (auto dir = find_own_cgroup_dir(m, pc.path, self)) {
                    layout.v1.push_back(Hierarchy{want, m, *dir});
                    break;
                }
            }
        }
    }
    if (!layout.v1.empty())
        layout.mode = layout.unified ? CgroupMode::Hybrid : CgroupMode::Legacy;
    else if (layout.unified)
        layout.mode = CgroupMode::Unified;
    return layout;
}

}  // namespace corral
