#include "corral/run/progress.hpp"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include "corral/base/error.hpp"

namespace corral {

namespace {

constexpr Duration kRedraw = std::chrono::milliseconds(100);  // at most 10 redraws a second

// stderr's size as the terminal says (TIOCGWINSZ), with a fallback for a terminal that says 0.
std::pair<std::size_t, std::size_t> terminal_size() {
    winsize ws{};
    if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) return {ws.ws_col, ws.ws_row};
    return {80, 24};
}

}  // namespace

Duration progress_interval() {
    const char* v = std::getenv("CORRAL_PROGRESS_INTERVAL_S");
    if (!v || !*v) return std::chrono::seconds(60);
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (*end != '\0' || !(s > 0) || s > 86400)
        throw UsageError(std::string("CORRAL_PROGRESS_INTERVAL_S=") + v + ": expected seconds, more than 0");
    return Duration(static_cast<Duration::rep>(s * 1e6));
}

ProgressMode resolve_progress_mode(ProgressMode asked) {
    const bool tty = ::isatty(2) == 1;
    if (asked == ProgressMode::Auto) return tty ? ProgressMode::Bar : ProgressMode::Auto;
    if (asked == ProgressMode::Bar && !tty)
        throw UsageError("--progress bar: corral's stderr is not a terminal (use lines, or auto)");
    return asked;
}

Progress::Progress(ProgressMode mode, EventLoop& loop, LiveOutput& out, LiveOutput& err, Statuses running)
    : mode_(resolve_progress_mode(mode)), loop_(loop), out_(out), err_(err), running_(std::move(running)) {
    if (mode_ == ProgressMode::None) return;
    // Whether each stream is mid-line (a line of ours starts on a new one), and in bar mode the area
    // goes before any output reaches the terminal. stdout counts only when it is a terminal too.
    err_.set_observer([this](std::string_view d) { observe(1, d); });
    if (::isatty(1) == 1) out_.set_observer([this](std::string_view d) { observe(0, d); });
    if (mode_ == ProgressMode::Bar) {
        tick_.arm_periodic(kRedraw);
        loop_.add(tick_.fd(), EPOLLIN, [this](std::uint32_t) {
            if (tick_.consume()) on_tick();
        });
        watching_tick_ = true;
    } else {
        periodic_.arm_periodic(progress_interval());
        loop_.add(periodic_.fd(), EPOLLIN, [this](std::uint32_t) {
            if (!periodic_.consume()) return;
            for (const auto& s : running_()) say(periodic_line(s));
        });
        watching_periodic_ = true;
    }
}

Progress::~Progress() {
    try {
        finish();
    } catch (const std::exception&) {
        // unwinding: the terminal keeps what it has
    }
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    if (watching_tick_) loop_.remove(tick_.fd());
    if (watching_periodic_) loop_.remove(periodic_.fd());
    watching_tick_ = watching_periodic_ = false;
    erase();
    err_.set_observer({});
    out_.set_observer({});
}

void Progress::observe(int stream, std::string_view data) {
    if (busy_ || data.empty()) return;
    erase();
    at_line_start_[static_cast<std::size_t>(stream)] = data.back() == '\n';
}

void Progress::say(const std::string& text) {
    if (mode_ == ProgressMode::None || finished_) return;
    const bool newline = !at_line_start();
    erase();
    busy_ = true;
    err_.write(newline ? "\n" + text : text);
    busy_ = false;
    at_line_start_ = {true, true};
}

void Progress::suite_started(const std::string& name, std::optional<double> timeout_s,
                             std::optional<std::uint64_t> memory_max) {
    if (mode_ == ProgressMode::Lines) say(start_line(name, timeout_s, memory_max));
}

void Progress::suite_ended(const SuiteResult& r) {
    if (mode_ == ProgressMode::Lines || mode_ == ProgressMode::Bar) say(end_line(r));
}

void Progress::erase() {
    if (shown_ == 0) return;
    busy_ = true;
    err_.write(erase_area(shown_));
    busy_ = false;
    shown_ = 0;
}

void Progress::on_tick() {
    if (finished_) return;
    const auto [cols, rows] = terminal_size();
    std::vector<SuiteStatus> running = running_();
    std::size_t name_w = 4;
    for (const auto& s : running) name_w = std::max(name_w, s.name.size());
    std::vector<std::string> lines;
    // One column short of the width (no line ends in the terminal's pending wrap), one row short of
    // its height (the cursor must be able to go back to the area's first line).
    const std::size_t max_lines = rows > 2 ? rows - 1 : 1;
    for (std::size_t i = 0; i < running.size(); ++i) {
        if (lines.size() + 1 == max_lines && running.size() > max_lines) {
            lines.push_back(fit_width(fmt::format("… and {} more running", running.size() - i), cols - 1));
            break;
        }
        lines.push_back(area_line(running[i], name_w, cols - 1));
    }
    if (lines == area_ && shown_ > 0) return;
    area_ = std::move(lines);
    erase();
    draw();
}

void Progress::before_wait() {
    if (mode_ == ProgressMode::Bar && shown_ == 0 && !area_.empty()) draw();
}

void Progress::draw() {
    if (finished_ || area_.empty() || shown_ > 0) return;
    // Never in the middle of a line, and never behind output still waiting in a buffer: the next
    // tick or wait tries again.
    if (!at_line_start() || out_.pending() || err_.pending()) return;
    std::string text;
    for (std::size_t i = 0; i < area_.size(); ++i) text += (i ? "\n" : "") + area_[i];
    busy_ = true;
    err_.write(text);
    busy_ = false;
    shown_ = area_.size();
}

}  // namespace corral
