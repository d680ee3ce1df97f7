// The stall decision (run/stall.hpp): quiet = no output and no change of the tree's CPU time.
#include <catch2/catch.hpp>

#include "corral/run/stall.hpp"

using namespace corral;

TEST_CASE("stall_state: active, then stalled? at half the stall_timeout, then stalled", "[stall]") {
    CHECK(stall_state(0, 2) == StallState::Active);
    CHECK(stall_state(0.99, 2) == StallState::Active);
    CHECK(stall_state(1, 2) == StallState::Suspect);
    CHECK(stall_state(1.99, 2) == StallState::Suspect);
    CHECK(stall_state(2, 2) == StallState::Stalled);
    CHECK(stall_state(600, 2) == StallState::Stalled);
    CHECK(stall_state(600, 0) == StallState::Active);  // no stall_timeout
}

TEST_CASE("StallWatch: a sleeping tree that printed one line is quiet from that line on", "[stall]") {
    // sh -c 'echo collecting ...; sleep 600' sampled every 100 ms: its CPU time stops moving at once.
    StallWatch w;
    w.cpu(0.0, 1500);  // the first sample is the baseline, not activity
    w.output(0.05);
    w.cpu(0.1, 1700);  // sh forking sleep
    for (double t = 0.2; t < 3; t += 0.1) w.cpu(t, 1700);
    CHECK(w.cpu_measured());
    CHECK(w.quiet_s(2.1) == Approx(2.0));
    CHECK(stall_state(w.quiet_s(2.1), 2) == StallState::Stalled);
    CHECK(stall_state(w.quiet_s(1.2), 2) == StallState::Suspect);
}

TEST_CASE("StallWatch: a busy tree that prints nothing is never quiet", "[stall]") {
    StallWatch w;
    std::uint64_t usage = 0;
    for (int i = 0; i <= 100; ++i) {
        usage += 100'000;  // a full core
        w.cpu(i * 0.1, usage);
    }
    CHECK(w.quiet_s(10.0) == Approx(0.0));
    CHECK(stall_state(w.quiet_s(10.0), 2) == StallState::Active);
}

TEST_CASE("StallWatch: output alone keeps a suite active, and without CPU time it is not measured", "[stall]") {
    StallWatch w;
    for (int i = 0; i < 50; ++i) w.cpu(i * 0.1, std::nullopt);
    CHECK_FALSE(w.cpu_measured());
    CHECK(w.quiet_s(5.0) == Approx(5.0));  // since the start
    w.output(4.5);
    CHECK(w.quiet_s(5.0) == Approx(0.5));
    w.output(1.0);  // an earlier time never moves activity back
    CHECK(w.quiet_s(5.0) == Approx(0.5));
}
