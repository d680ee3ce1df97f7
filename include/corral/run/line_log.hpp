// The lines a suite printed lately, with the time each was read: which line was being printed at a
// moment (an OOM kill's), the unterminated one included (pytest -v prints a test's node id before it
// runs and its result after, so the partial line is the test that runs). Bounded.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "corral/report/sample_series.hpp"

namespace corral {

class LineLog {
public:
    static constexpr std::size_t kMaxEntries = 512;

    // A complete, non-blank line (trimmed) read at t_s (kernel monotonic seconds).
    void line(double t_s, std::string_view text) { push(t_s, text, false); }
    // The unterminated rest of a stream at t_s; "" when a line just ended.
    void partial(double t_s, std::string_view text) {
        if (text.find_first_not_of(" \t\r") == std::string_view::npos) return;
        if (!entries_.empty() && entries_.back().partial && entries_.back().text == cut_utf8(text, kSampleLineMaxBytes))
            return;
        push(t_s, text, true);
    }

    struct At {
        std::string text;
        bool partial = false;
        bool known = false;  // false: the moment is older than what is kept, or nothing was printed
    };
    // What was being printed at t_s: the latest entry read at or before it.
    At at(double t_s) const {
        At a;
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
            if (it->t_s <= t_s) {
                a.text = it->text;
                a.partial = it->partial;
                a.known = true;
                return a;
            }
        return a;
    }

private:
    struct Entry {
        double t_s;
        std::string text;
        bool partial;
    };
    void push(double t_s, std::string_view text, bool partial) {
        entries_.push_back(Entry{t_s, cut_utf8(text, kSampleLineMaxBytes), partial});
        if (entries_.size() > kMaxEntries) entries_.pop_front();
    }
    std::deque<Entry> entries_;
};

}  // namespace corral
