// A suite's output: its two streams (file, live pass-through, last line) and what its lines say.
#include <fcntl.h>
#include <sys/epoll.h>

#include <ctime>

#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/run/suite_run.hpp"

namespace corral {

namespace {
// Markers' own samples: at most one a millisecond.
constexpr double kMarkerSampleMinS = 0.001;
}  // namespace

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
    if (markers_ && phase_ != Phase::Entering && phase_ != Phase::Releasing && phase_ != Phase::Done) {
        std::optional<MarkerEvent> ev = partial ? markers_->on_partial(text) : markers_->on_line(text);
        if (ev) {
            try {
                on_marker(*ev);
            } catch (const Error&) {
                // the box is going (its tree ends): the periodic samples say what is known
            }
        }
    }
    if (phase_ == Phase::Running) stall_.output(seconds_since(t0_));
    const double t = monotonic_now_s();
    const std::string line = trim_line(std::string(text));
    if (!line.empty()) live_line_ = line;
    if (partial)
        lines_.partial(t, line);
    else if (!line.empty())
        lines_.line(t, line);
}

void SuiteRun::on_marker(const MarkerEvent& ev) {
    const double t = seconds_since(t0_);
    // A sample of its own, so that a test shorter than the sample interval gets its own change.
    if (box_ && box_->enforced() && t - last_marker_sample_t_ >= kMarkerSampleMinS) {
        last_marker_sample_t_ = t;
        record_memory(t, box_->sample().memory_bytes);
    }
    growth_.marker(t, ev);
}

void SuiteRun::open_ci_group() {
    if (r_.opts.ci_groups == CiSystem::None) return;
    r_.live_out.write(ci_group_start(r_.opts.ci_groups, spec_.name, static_cast<std::int64_t>(std::time(nullptr))));
    ci_group_open_ = true;
}

void SuiteRun::close_ci_group() {
    if (!ci_group_open_) return;
    ci_group_open_ = false;
    std::string end = out_ && out_->ends_mid_line() ? "\n" : "";  // the group line starts a line
    end += ci_group_end(r_.opts.ci_groups, spec_.name, static_cast<std::int64_t>(std::time(nullptr)));
    r_.live_out.write(end);
}

}  // namespace corral
