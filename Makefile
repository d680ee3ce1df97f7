# corral: `make demo` and `make test` on a fresh Debian 12 machine do all set-up themselves.
SHELL := /bin/bash
BUILD ?= build
JOBS  ?= $(shell nproc)
DEBS  := cmake g++ make pkg-config libsystemd-dev libseccomp-dev libyaml-cpp-dev libfmt-dev \
         catch2 libcli11-dev nlohmann-json3-dev util-linux systemd dbus \
         python3-pytest python3-pytest-xdist python3-prometheus-client libxml2-utils tmux chromium python3-jsonschema
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_REPORT ?= corral-reports/demo

.PHONY: all deps build demo test bench clean

all: build

# Installs the Debian packages that are missing (apt-get update first), non-interactively.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all Debian packages present"; fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# Runs the bundled example: one suite passes, one is OOM-killed, one hangs and is ended by its
# timeout. Exit 0 when the three verdicts are the expected ones.
demo: build
	@rm -rf $(DEMO_REPORT)
	@rc=0; $(BUILD)/corral run --report-dir $(DEMO_REPORT) profiles/example.yaml || rc=$$?; \
	verdicts=$$(grep -o '"verdict": "[a-z-]*"' $(DEMO_REPORT)/report.json | cut -d'"' -f4 | tr '\n' ' '); \
	echo; echo "report: $(DEMO_REPORT)/report.json (suite outputs beside it)"; \
	echo "verdicts: $$verdicts(corral exit status $$rc)"; \
	if [ "$$verdicts" = "passed oom-killed timeout " ] && [ $$rc = 1 ]; then \
	  echo "demo: OK, the verdicts are the expected ones"; \
	else echo "demo: FAILED, expected 'passed oom-killed timeout' and exit status 1"; exit 1; fi

# Every test tier, in two passes over two builds (each tier runs once, the unit tier twice):
#  1. the normal build: unit; browser (report.html in headless chromium); vm (the host tests and
#     the systemd tests in a QEMU VM on pure cgroup v2, tests/vm/: under TCG an ASan build would
#     take several times as long).
#  2. an ASan+UBSan build (leaks checked, halt_on_error): unit; host (root, this machine's real
#     cgroups); systemd (a real systemd 252 as PID 1 of a namespace container, tests/systemd/).
#     The host and systemd tiers run on this build only: the sanitizers find more there than a
#     second run on the normal build would, which the vm tier has run on v2; CI stays under 30 min.
# ctest -j runs the unit entries side by side; the others are RUN_SERIAL and run alone.
# CORRAL_SKIP_VM_TESTS=1 skips the vm tier (ctest lists it as skipped); otherwise a VM that cannot
# run fails with the reason. When a pass fails, tests/failure-digest.sh prints a few lines for each
# failed entry last: a CI log cut to its head and tail still says which test failed, where and what.
test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 300 -j$(JOBS) -LE '^(host|systemd)$$' || { bash $(CURDIR)/tests/failure-digest.sh .; exit 1; }
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DCORRAL_SANITIZE=ON >/dev/null
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure --timeout 300 -j$(JOBS) -LE '^(vm|browser)$$' || { bash $(CURDIR)/tests/failure-digest.sh .; exit 1; }

bench: build
	$(BUILD)/bench/corral_bench

clean:
	rm -rf $(BUILD) $(BUILD)-asan corral-reports
