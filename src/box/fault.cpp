#include "corral/box/fault.hpp"

#include <cstdlib>
#include <set>
#include <sstream>

#include "corral/base/error.hpp"

namespace corral {

namespace {

// Forwards everything to the real box, except the operations CORRAL_FAULT names, which throw.
class FaultyBox : public Box {
public:
    FaultyBox(std::unique_ptr<Box> box, std::set<std::string> ops) : box_(std::move(box)), ops_(std::move(ops)) {}

    void apply_limits(const Limits& l) override { box_->apply_limits(l); }
    bool enter(pid_t pid) override { return box_->enter(pid); }
    bool enter_done() override { return box_->enter_done(); }
    int populated_fd() const override { return box_->populated_fd(); }
    bool populated() override { return box_->populated(); }
    std::vector<pid_t> pids() override { return box_->pids(); }
    int signal_all(int sig) override {
        fault("signal");
        return box_->signal_all(sig);
    }
    KillRound kill_round() override {
        fault("kill");
        return box_->kill_round();
    }
    std::string kill_method() const override { return box_->kill_method(); }
    std::optional<Duration> release() override { return box_->release(); }
    BoxSample sample() override {
        fault("sample");
        return box_->sample();
    }
    BoxCounters counters() override {
        fault("counters");
        return box_->counters();
    }
    std::optional<MemorySplit> memory_split() override { return box_->memory_split(); }
    bool oom_group_native() const override { return box_->oom_group_native(); }
    OomCounters oom_counters_now() override { return box_->oom_counters_now(); }
    int cgroup_fd() const override { return box_->cgroup_fd(); }
    std::vector<std::string> notes() const override { return box_->notes(); }
    std::string entry_method() const override { return box_->entry_method(); }
    std::string cgroup_name() const override { return box_->cgroup_name(); }
    std::string describe() const override { return box_->describe(); }
    bool enforced() const override { return box_->enforced(); }

private:
    void fault(const char* op) const {
        if (ops_.count(op)) throw Error(std::string("injected fault in ") + op + " (CORRAL_FAULT)");
    }

    std::unique_ptr<Box> box_;
    std::set<std::string> ops_;
};

}  // namespace

std::unique_ptr<Box> with_injected_faults(std::unique_ptr<Box> box, const std::string& suite) {
    const char* spec = std::getenv("CORRAL_FAULT");
    if (!spec || !*spec) return box;
    std::set<std::string> ops;
    std::istringstream in(spec);
    for (std::string item; std::getline(in, item, ',');) {
        auto colon = item.find(':');
        if (colon != std::string::npos && item.substr(colon + 1) == suite) ops.insert(item.substr(0, colon));
    }
    if (ops.empty()) return box;
    return std::make_unique<FaultyBox>(std::move(box), std::move(ops));
}

}  // namespace corral
