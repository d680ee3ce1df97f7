// A suite's output: its two streams (file, live pass-through, last line) and what its lines say.
#include <fcntl.h>
#include <sys/epoll.h>

#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/run/suite_run.hpp"

namespace corral {

OutputStream SuiteRun::make_stream(UniqueFd read_end, const char* ext, LiveOutput& live) {
    std::string file = fmt::format("{}.{}", spec_.name, ext);
    std::string path = r_.opts.report_dir + "/" + file;
    UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!f) throw_errno("create " + path);
    (std::string(ext) == "stdout" ? res_.stdout_file : res_.stderr_file) = file;
    std::string prefix = r_.opts.prefix_output ? "[" + spec_.name + "] " : "";
    return OutputStream(std::move(read_end), std::move(f), path, &live, prefix, &res_.last_line,
                        [this](std::string_view text, bool partial) { on_text(text, partial); });
}

void SuiteRun::watch_stream(OutputStream& s) {
    r_.watch(s.fd(), EPOLLIN, [this, &s](std::uint32_t) {
        if (!s.pump()) {
            unwatch(s.fd());  // before the fd is closed and its number reused
            s.drain();
        }
    }, watched_);
}

void SuiteRun::on_text(std::string_view text, bool partial) {
    const double t = monotonic_now_s();
    const std::string line = trim_line(std::string(text));
    if (partial)
        lines_.partial(t, line);
    else if (!line.empty())
        lines_.line(t, line);
}

}  // namespace corral
