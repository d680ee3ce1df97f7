#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "corral/base/fd.hpp"
#include "report_schema.hpp"

namespace fs = std::filesystem;

namespace host {

std::string corral_bin() { return CORRAL_BIN; }
std::string prog(const std::string& name) { return std::string(CORRAL_PROGS_DIR) + "/" + name; }
std::string source_dir() { return CORRAL_SOURCE_DIR; }

// ---- files ----------------------------------------------------------------------------------

TempDir::TempDir(const std::string& tag) {
    std::string tmpl = "/tmp/corral-host-" + tag + ".XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
        throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = buf.data();
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool in_test_vm() {
    std::istringstream words(read_text("/proc/cmdline"));
    for (std::string w; words >> w;)
        if (w == "CORRAL_TEST_VM=1") return true;
    return false;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
    return out;
}

namespace {
std::string truncated(const std::string& s, std::size_t max = 6000) {
    if (s.size() <= max) return s;
    return s.substr(0, max / 2) + "\n[... " + std::to_string(s.size() - max) + " bytes ...]\n" +
           s.substr(s.size() - max / 2);
}
}  // namespace

// ---- processes ------------------------------------------------------------------------------

std::string Outcome::describe() const {
    std::ostringstream os;
    if (hung)
        os << "still running at the harness limit (SIGKILLed)";
    else if (term_signal != 0)
        os << "killed by signal " << term_signal << " (" << strsignal(term_signal) << ")";
    else
        os << "exit status " << exit_code;
    os << " after " << wall_s << " s\n--- stdout ---\n"
       << truncated(out) << "\n--- stderr ---\n"
       << truncated(err);
    return os.str();
}

Child::Child(const std::vector<std::string>& argv, RunOptions opts) : opts_(std::move(opts)), io_("io") {
    if (argv.empty()) throw std::invalid_argument("Child: empty argv");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::string out = io_.file("stdout"), err = io_.file("stderr");
    started_ = std::chrono::steady_clock::now();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
        // Only async-signal-safe calls until exec.
        ::setpgid(0, 0);
        int in_fd = ::open("/dev/null", O_RDONLY);
        int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in_fd < 0 || out_fd < 0 || err_fd < 0) ::_exit(126);
        ::dup2(in_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!opts_.cwd.empty() && ::chdir(opts_.cwd.c_str()) != 0) ::_exit(126);
        ::execvp(args[0], args.data());
        const char msg[] = "harness: exec failed\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
}

Child::~Child() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

void Child::signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
}

bool Child::running() const {
    if (pid_ <= 0) return false;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
    return info.si_pid == 0;
}

Outcome Child::wait() {
    Outcome o;
    if (pid_ <= 0) throw std::logic_error("Child::wait: already waited for");
    const auto deadline = started_ + opts_.limit;
    corral::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    int status = 0;
    struct rusage usage {};
    for (;;) {
        pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
        if (r == pid_) break;
        if (r < 0 && errno != EINTR)
            throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            o.hung = true;
            ::kill(pid_, SIGKILL);
            ::wait4(pid_, &status, 0, &usage);
            break;
        }
        if (pidfd) {
            pollfd p{pidfd.get(), POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        } else {
            std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(left, 20ms));
        }
    }
    pid_ = -1;
    o.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    o.max_rss_kib = usage.ru_maxrss;
    if (!o.hung && WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) o.term_signal = WTERMSIG(status);
    o.out = read_text(io_.file("stdout"));
    o.err = read_text(io_.file("stderr"));
    return o;
}

Outcome run(const std::vector<std::string>& argv, const RunOptions& opts) { return Child(argv, opts).wait(); }

Outcome run_corral(const std::vector<std::string>& args, const RunOptions& opts) {
    std::vector<std::string> argv{corral_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, opts);
}

std::string example_profile(const TempDir& work) {
    namespace fs = std::filesystem;
    const std::string profile = source_dir() + "/profiles/example.yaml";
    // The example runs build/progs/... from the repo root; point it at this build's programs.
    std::error_code ec;
    if (fs::equivalent(fs::path(source_dir()) / "build" / "progs", CORRAL_PROGS_DIR, ec)) return profile;
    std::string text = read_text(profile);
    for (std::size_t at; (at = text.find("build/progs/")) != std::string::npos;)
        text.replace(at, std::string("build/progs/").size(), std::string(CORRAL_PROGS_DIR) + "/");
    write_text(work.file("example.yaml"), text);
    return work.file("example.yaml");
}

std::vector<std::string> adhoc(const std::string& report_dir, const std::vector<std::string>& options,
                               const std::vector<std::string>& command) {
    std::vector<std::string> args{"run", "--report-dir", report_dir};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    return args;
}

// ---- reports --------------------------------------------------------------------------------

Json load_report(const std::string& dir) {
    const std::string path = dir + "/report.json";
    if (!fs::exists(path)) throw std::runtime_error("no report written: " + path + " does not exist");
    Json report;
    try {
        report = Json::parse(read_text(path));
    } catch (const Json::exception& e) {
        throw std::runtime_error(path + " is not JSON: " + e.what());
    }
    check_report_schema(path);
    return report;
}

const Json& suite(const Json& report, const std::string& name) {
    std::vector<std::string> names;
    for (const auto& s : field(report, "/suites")) {
        if (s.contains("name") && s["name"] == name) return s;
        names.push_back(s.contains("name") ? s["name"].dump() : "?");
    }
    throw std::runtime_error("report has no suite '" + name + "' (suites: " + join(names) + ")");
}

const Json& field(const Json& j, const std::string& pointer) {
    try {
        return j.at(Json::json_pointer(pointer));
    } catch (const Json::exception& e) {
        throw std::runtime_error("report field " + pointer + " missing: " + e.what());
    }
}

double num(const Json& j, const std::string& pointer) {
    const Json& v = field(j, pointer);
    if (!v.is_number()) throw std::runtime_error("report field " + pointer + " is not a number: " + v.dump());
    return v.get<double>();
}

std::string str(const Json& j, const std::string& pointer) {
    const Json& v = field(j, pointer);
    if (!v.is_string()) throw std::runtime_error("report field " + pointer + " is not a string: " + v.dump());
    return v.get<std::string>();
}

std::string suite_stdout(const Json& s, const std::string& report_dir) {
    return read_text(report_dir + "/" + str(s, "/stdout"));
}

std::string suite_stderr(const Json& s, const std::string& report_dir) {
    return read_text(report_dir + "/" + str(s, "/stderr"));
}

std::string notes_of(const Json& report, const Json& s) {
    std::string out;
    for (const Json* j : {&report, &s})
        if (j->contains("notes") && (*j)["notes"].is_array())
            for (const auto& n : (*j)["notes"])
                out += (n.is_string() ? n.get<std::string>() : n.dump()) + "\n";
    return out;
}

std::string brief(const Json& j) {
    Json copy = j;
    auto count = [](Json& parent, const char* key) {
        if (parent.is_object() && parent.contains(key) && parent[key].is_array())
            parent[key] = std::to_string(parent[key].size()) + " samples";
    };
    auto strip = [&](Json& s) {
        if (!s.is_object() || !s.contains("memory") || !s["memory"].is_object()) return;
        Json& mem = s["memory"];
        count(mem, "samples");
        count(mem, "history");
        count(mem, "oom_samples");
        count(mem, "pressure");
        if (mem.contains("pressure")) {
            count(mem["pressure"], "samples");
            count(mem["pressure"], "history");
        }
    };
    strip(copy);
    if (copy.is_object() && copy.contains("suites") && copy["suites"].is_array())
        for (auto& s : copy["suites"]) strip(s);
    return truncated(copy.dump(2));
}

// ---- /proc ----------------------------------------------------------------------------------

std::vector<ProcEntry> marker_processes(const std::string& marker) {
    std::vector<ProcEntry> found;
    const pid_t self = ::getpid();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        const pid_t pid = std::stoi(name);
        if (pid == self) continue;
        std::string cmdline;
        try {
            cmdline = read_text("/proc/" + name + "/cmdline");
        } catch (const std::exception&) {
            continue;  // gone meanwhile
        }
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (!contains(cmdline, marker)) continue;
        ProcEntry p{pid, "", cmdline};
        try {
            p.comm = read_text("/proc/" + name + "/comm");
            if (!p.comm.empty() && p.comm.back() == '\n') p.comm.pop_back();
        } catch (const std::exception&) {
        }
        found.push_back(std::move(p));
    }
    return found;
}

std::string describe(const std::vector<ProcEntry>& procs) {
    std::vector<std::string> lines;
    for (const auto& p : procs) lines.push_back(std::to_string(p.pid) + " (" + p.comm + ") " + p.cmdline);
    return lines.empty() ? "none" : join(lines, "\n");
}

bool wait_for_process(const std::string& marker, const std::string& comm, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    do {
        for (const auto& p : marker_processes(marker))
            if (p.comm == comm) return true;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

void kill_marker_processes(const std::string& marker) {
    for (const auto& p : marker_processes(marker)) ::kill(p.pid, SIGKILL);
}

// ---- cgroups --------------------------------------------------------------------------------

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
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
        bool octal = s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) &&
                     is_octal(s[i + 3]);
        if (octal) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

struct CgroupMount {
    bool v2 = false;
    std::set<std::string> options;  // super options: controllers and name=
    std::string root, point;
};

std::vector<CgroupMount> cgroup_mounts() {
    std::vector<CgroupMount> mounts;
    std::istringstream in(read_text("/proc/self/mountinfo"));
    for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        std::vector<std::string> f;
        for (std::string w; ls >> w;) f.push_back(w);
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
        const std::string& type = *(dash + 1);
        if (type != "cgroup" && type != "cgroup2") continue;
        CgroupMount m;
        m.v2 = type == "cgroup2";
        m.root = unescape(f[3]);
        m.point = unescape(f[4]);
        for (const auto& o : split(*(dash + 3), ',')) m.options.insert(o);
        mounts.push_back(std::move(m));
    }
    return mounts;
}

std::vector<pid_t> procs_in(const fs::path& dir);

void find_corral_dirs(const fs::path& dir, int depth, std::vector<std::string>& out) {
    if (depth > 12) return;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, fs::directory_options::skip_permission_denied, ec)) {
        std::error_code ec2;
        if (!e.is_directory(ec2) || e.is_symlink(ec2)) continue;
        const std::string name = e.path().filename();
        // corral-launcher: the v2 backend's leaf for corral itself, empty once corral has exited.
        if (name == "corral-launcher" && procs_in(e.path()).empty()) continue;
        if (name.rfind("corral-", 0) == 0)
            out.push_back(e.path());
        else
            find_corral_dirs(e.path(), depth + 1, out);
    }
}

std::vector<pid_t> procs_in(const fs::path& dir) {
    std::vector<pid_t> pids;
    try {
        std::istringstream in(read_text(dir / "cgroup.procs"));
        for (pid_t p; in >> p;) pids.push_back(p);
    } catch (const std::exception&) {
    }
    return pids;
}

// Kills everything in dir and below, then removes the directories bottom-up.
void remove_cgroup_tree(const fs::path& dir) {
    std::error_code ec;
    std::vector<fs::path> subdirs;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_directory(ec)) subdirs.push_back(e.path());
    for (const auto& sub : subdirs) remove_cgroup_tree(sub);
    if (fs::exists(dir / "freezer.state")) {
        std::ofstream thaw(dir / "freezer.state");
        thaw << "THAWED";
    }
    if (fs::exists(dir / "cgroup.freeze")) {
        std::ofstream thaw(dir / "cgroup.freeze");
        thaw << "0";
    }
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    for (auto pids = procs_in(dir); !pids.empty() && std::chrono::steady_clock::now() < deadline;
         pids = procs_in(dir)) {
        for (pid_t p : pids) ::kill(p, SIGKILL);
        std::this_thread::sleep_for(20ms);
    }
    ::rmdir(dir.c_str());
}

}  // namespace

std::vector<Hierarchy> own_hierarchies() {
    const auto mounts = cgroup_mounts();
    std::vector<Hierarchy> out;
    std::istringstream in(read_text("/proc/self/cgroup"));
    for (std::string line; std::getline(in, line);) {
        // "4:memory:/a/b", "0::/a/b"
        auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
        if (c1 == std::string::npos || c2 == std::string::npos) continue;
        Hierarchy h;
        h.controllers = line.substr(c1 + 1, c2 - c1 - 1);
        h.v2 = line.substr(0, c1) == "0" && h.controllers.empty();
        const std::string path = line.substr(c2 + 1);
        for (const auto& m : mounts) {
            if (m.v2 != h.v2) continue;
            if (!h.v2) {
                auto wanted = split(h.controllers, ',');
                if (!std::all_of(wanted.begin(), wanted.end(),
                                 [&](const auto& c) { return m.options.count(c); }))
                    continue;
            }
            if (path.rfind(m.root, 0) != 0) continue;  // outside this mount's view
            std::string rel = m.root == "/" ? path : path.substr(m.root.size());
            h.mount = m.point;
            h.dir = (fs::path(m.point) / fs::path(rel).relative_path()).lexically_normal();
            if (h.dir.size() > 1 && h.dir.back() == '/') h.dir.pop_back();
            break;
        }
        if (!h.mount.empty()) out.push_back(std::move(h));
    }
    return out;
}

const Hierarchy* memory_hierarchy(const std::vector<Hierarchy>& hs) {
    for (const auto& h : hs)
        if (!h.v2 && contains("," + h.controllers + ",", ",memory,")) return &h;
    for (const auto& h : hs)
        if (h.v2) {
            std::string ctrl;
            try {
                ctrl = read_text(h.mount + "/cgroup.controllers");
            } catch (const std::exception&) {
            }
            std::istringstream words(ctrl);
            for (std::string w; words >> w;)
                if (w == "memory") return &h;
        }
    return nullptr;
}

std::vector<std::string> leftover_cgroups() {
    std::vector<std::string> found;
    std::set<std::string> seen;
    for (const auto& h : own_hierarchies()) {
        if (!seen.insert(h.dir).second) continue;
        find_corral_dirs(h.dir, 0, found);
    }
    return found;
}

std::vector<std::string> sweep_leftover_cgroups() {
    auto found = leftover_cgroups();
    for (const auto& dir : found) remove_cgroup_tree(dir);
    return found;
}

std::string host_problem() {
    struct statvfs st {};
    if (::statvfs("/sys/fs/cgroup", &st) != 0)
        return std::string("/sys/fs/cgroup: ") + std::strerror(errno) + " (no cgroup filesystem mounted)";
    std::vector<Hierarchy> hs;
    try {
        hs = own_hierarchies();
    } catch (const std::exception& e) {
        return e.what();
    }
    if (hs.empty())
        return "no cgroup hierarchy of this process is mounted (see /proc/self/cgroup, /proc/self/mountinfo)";
    const Hierarchy* mem = memory_hierarchy(hs);
    if (mem == nullptr)
        return "no mounted cgroup hierarchy has the memory controller (neither a v1 memory mount nor memory "
               "in "
               "cgroup.controllers of the cgroup2 mount)";
    if (::statvfs(mem->dir.c_str(), &st) != 0) return mem->dir + ": " + std::strerror(errno);
    if (st.f_flag & ST_RDONLY)
        return mem->mount + " is mounted read-only: remount it read-write (mount -o remount,rw " +
               mem->mount + ")";
    if (::access(mem->dir.c_str(), W_OK) != 0)
        return "cannot create cgroups in " + mem->dir + ": " + std::strerror(errno);
    if (mem->v2 && mem->dir != mem->mount) {
        // corral, started by the tests, shares this cgroup with them: the "no internal processes"
        // rule stops it from handing memory to its boxes, and it refuses (rightly) to move others.
        std::string controllers = read_text(mem->dir + "/cgroup.subtree_control");
        if (controllers.find("memory") == std::string::npos && procs_in(mem->dir).size() > 1)
            return "on cgroup v2 the host tier must run in the root cgroup or alone in a cgroup with memory "
                   "delegated: " + mem->dir + " holds other processes too, so corral could not enable the memory "
                   "controller for its boxes (run it e.g. with systemd-run --scope -p Delegate=yes)";
    }
    return "";
}

// ---- HostCase -------------------------------------------------------------------------------

std::string HostCase::marker(const std::string& tag) {
    static int counter = 0;
    std::string m = "hostmark-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    markers_.push_back(m);
    return m;
}

std::string HostCase::sleep_marker() {
    std::random_device rd;
    std::string m = "3000." + std::to_string(100000000 + rd() % 900000000);
    markers_.push_back(m);
    return m;
}

void HostCase::watch(const std::string& marker) { markers_.push_back(marker); }

void HostCase::finish() {
    for (const auto& m : markers_) {
        auto procs = marker_processes(m);
        INFO("processes still carrying marker " << m << ":\n" << describe(procs));
        CHECK(procs.empty());
    }
    auto left = sweep_leftover_cgroups();
    INFO("corral cgroups left behind (removed by the harness): " << join(left));
    CHECK(left.empty());
}

HostCase::~HostCase() {
    for (const auto& m : markers_) kill_marker_processes(m);
    sweep_leftover_cgroups();
}

}  // namespace host
