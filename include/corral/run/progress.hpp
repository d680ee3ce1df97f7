// corral's live progress on its stderr while suites run (--progress auto|bar|lines|none).
// bar (auto on a terminal): a status area at the bottom, one line per running suite, redrawn at most
// 10 times a second; it is erased before any output goes to the terminal and drawn again after,
// never in the middle of a line; a finished suite leaves one line above it. lines: one line per
// suite start and end. Both (and auto off a terminal) print one line per running suite every 60 s
// (CORRAL_PROGRESS_INTERVAL_S, a test hook), so that a hung CI job's log shows where each suite was.
// Nothing here blocks: the writes go through the run's LiveOutputs, the ticks come from a timerfd.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "corral/profile/quantities.hpp"
#include "corral/report/result.hpp"
#include "corral/run/event_loop.hpp"
#include "corral/run/live_output.hpp"
#include "corral/run/progress_text.hpp"

namespace corral {

// The periodic line's interval: 60 s, or CORRAL_PROGRESS_INTERVAL_S (seconds, for tests only).
Duration progress_interval();
// auto: bar when stderr is a terminal, else the periodic line alone. bar on a stderr that is no
// terminal is a UsageError.
ProgressMode resolve_progress_mode(ProgressMode asked);

class Progress {
public:
    using Statuses = std::function<std::vector<SuiteStatus>()>;
    // mode: as asked (Auto resolved here); running: the statuses of the running suites now.
    Progress(ProgressMode mode, EventLoop& loop, LiveOutput& out, LiveOutput& err, Statuses running);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void suite_started(const std::string& name, std::optional<double> timeout_s, std::optional<std::uint64_t> memory_max);
    void suite_ended(const SuiteResult& r);
    // From the loop before each wait: draws the area again after output erased it.
    void before_wait();
    // The run is over: the area is erased and stays so.
    void finish();

private:
    void on_tick();
    void observe(int stream, std::string_view data);
    void erase();
    void draw();
    // Writes corral's own text to stderr, starting a new line when the streams are mid-line.
    void say(const std::string& text);
    bool at_line_start() const { return at_line_start_[0] && at_line_start_[1]; }

    ProgressMode mode_;
    EventLoop& loop_;
    LiveOutput& out_;
    LiveOutput& err_;
    Statuses running_;
    Timer tick_, periodic_;
    bool watching_tick_ = false, watching_periodic_ = false;
    bool busy_ = false;                     // writing the area itself: the observers keep still
    std::array<bool, 2> at_line_start_{true, true};  // corral's stdout, stderr
    std::vector<std::string> area_;         // the area's lines as last computed
    std::size_t shown_ = 0;                 // lines of the area on the terminal now
    bool finished_ = false;
};

}  // namespace corral
