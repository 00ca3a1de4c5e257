# pushd: a thin wrapper around CMake. `make run` and `make test` do everything
# on a fresh Debian 12 machine (they install missing packages first).
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
ASAN     ?= build-asan
FUZZ     ?= build-fuzz
# Seconds per fuzz target: `make fuzz` (the issue asks 600 for a full
# campaign) and the short run inside `make test`.
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 5
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG   ?= etc/pushd.yaml

# Debian 12 packages the build, the tests and the development run need
# (chromium: the web chat's browser test; systemd: systemd-sysusers,
# systemd-tmpfiles and systemd-analyze of the packaging tests; scdoc: the
# man pages; stunnel4: the Redis TLS recipe's test). Node.js and npm (the JavaScript
# client's tests) are installed from Debian only when `node`/`npm` are
# missing, so a Node.js installed otherwise is kept; likewise nginx (the
# deploy/nginx test) as nginx-light when no nginx flavour is installed.
# clang and its runtime (libFuzzer, the sanitizers): the fuzz targets.
# clang-format (14) and python3: the format and code-shape checks.
# debhelper, dpkg-dev and lintian: `make deb` and the package's test.
DEPS := build-essential cmake pkg-config clang libclang-rt-14-dev \
        libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libcjson-dev libjwt-dev \
        libhiredis-dev libyaml-dev libcli11-dev catch2 libsystemd-dev liburing-dev zlib1g-dev \
        libssl-dev openssl redis-server redis-tools curl chromium systemd scdoc \
        clang-format python3 python3-yaml python3-jsonschema debhelper dpkg-dev lintian stunnel4

.PHONY: all deps configure build test-build run test integration asan-build unit-asan integration-asan fuzz-build fuzz fuzz-check bench chaos soak soak-asan \
        install clean deb test-deb format format-check

all: build

# Installs only what is missing; does nothing when everything is present.
deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	scripts/dev-run.sh $(BUILD)/pushd $(CONFIG)

# The whole tree (pushd, pushctl, the test programs) built with
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included).
# Reports go to one file per process under $(SAN_LOGS) (see
# tests/sanitizers/check-logs.sh), and any report fails the target.
SAN_LOGS = $(abspath $(ASAN))/sanitizer-logs
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(SAN_LOGS)/$@/asan \
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(SAN_LOGS)/$@/ubsan \
          LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0

asan-build: deps
	cmake -S . -B $(ASAN) -DPUSHD_SANITIZE=ON -DPUSHD_UNIT_ONLY=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(ASAN) -j $(JOBS) --target unit_tests pushd pushctl pushd-bench integration_tests

# Unit tests under the sanitizers.
unit-asan: asan-build
	rm -rf $(SAN_LOGS)/$@ && mkdir -p $(SAN_LOGS)/$@
	$(SAN_ENV) $(ASAN)/unit_tests
	tests/sanitizers/check-logs.sh $(SAN_LOGS)/$@

# The integration tests against the sanitized pushd and pushctl: every
# process they start (and the test program itself) reports into the logs.
integration-asan: asan-build
	rm -rf $(SAN_LOGS)/$@ && mkdir -p $(SAN_LOGS)/$@
	$(SAN_ENV) $(ASAN)/integration_tests
	tests/sanitizers/check-logs.sh $(SAN_LOGS)/$@

# libFuzzer targets (tests/fuzz/README.md): clang, ASan + UBSan, pure
# sources only, in their own build directory.
fuzz-build: deps
	cmake -S . -B $(FUZZ) -DPUSHD_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ) -j $(JOBS)

# Every target for FUZZ_SECONDS, after replaying its regression inputs.
fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS)

# The part of `make test`: regressions, then FUZZ_TEST_SECONDS per target.
fuzz-check: fuzz-build
	tests/fuzz/run.sh $(FUZZ) $(FUZZ_TEST_SECONDS)

# The C++ sources the house format (.clang-format) covers.
FORMAT_FILES = $(shell git ls-files 'src/*.cpp' 'src/*.hpp' 'cli/*.cpp' 'cli/*.hpp' 'tests/*.cpp' 'tests/*.hpp' \
                 'bench/*.cpp' 'bench/*.hpp' 2>/dev/null)

# Rewrites the sources in the house format.
format: deps
	clang-format -i $(FORMAT_FILES)

# Fails on any source not in the house format (.ci/run runs it).
format-check: deps
	clang-format --dry-run --Werror $(FORMAT_FILES)

# The integration suite runs once, against the sanitized build
# (integration-asan: the same tests, and ASan/UBSan/LSan reports fail it);
# ctest's plain `integration` is for local runs (ctest -R integration), left
# out here to keep make test under 30 minutes on 2 cores.
# The plain integration suite (not built by `build`): local runs.
integration: build
	cmake --build $(BUILD) -j $(JOBS) --target integration_tests
	cd $(BUILD) && ctest --output-on-failure -R '^integration$$'

# What `make test` needs of the plain tree: everything but its unit tests,
# which run under the sanitizers instead (unit-asan), so they are not
# compiled twice (a minute of the 30 that CI allows).
test-build: configure
	cmake --build $(BUILD) -j $(JOBS) --target pushd pushctl pushd-bench man

test: test-build unit-asan integration-asan fuzz-check
	cd $(BUILD) && ctest --output-on-failure -E '^(integration|unit)$$'

# Overlapping faults, longer than the bounded run in `make test`:
# CHAOS_RUNS runs of CHAOS_DURATION seconds each, seeds from CHAOS_SEED on
# (tests/faults/README.md).
CHAOS_RUNS     ?= 10
CHAOS_DURATION ?= 120
CHAOS_SEED     ?= $(shell date +%s)
chaos: build
	tests/faults/run.sh $(BUILD) $(CHAOS_RUNS) $(CHAOS_DURATION) $(CHAOS_SEED)

# Connection churn for SOAK_DURATION seconds, then a check that pushd's
# memory, descriptors, queues and frame pool return to their baseline
# (tests/soak/README.md; `make test` runs 60 s of it).
SOAK_DURATION ?= 600
soak: build
	tests/soak/run.sh $(BUILD) $(SOAK_DURATION)

# The same against the sanitized pushd: any ASan/UBSan/LSan report fails
# it (LeakSanitizer checks at pushd's exit). RSS is no measure there: ASan
# keeps up to 256 MiB of freed memory in quarantine (+312 MiB after 60 s),
# so its bound is only a ceiling; the other bounds are the same.
soak-asan: asan-build
	rm -rf $(SAN_LOGS)/$@ && mkdir -p $(SAN_LOGS)/$@
	$(SAN_ENV) SOAK_RSS_SLACK_MB=512 tests/soak/run.sh $(ASAN) $(SOAK_DURATION)
	tests/sanitizers/check-logs.sh $(SAN_LOGS)/$@

# The benchmark builds its own Release binaries (build-bench/); BENCH_ARGS
# passes options, e.g. make bench BENCH_ARGS=--quick (see bench/README.md).
bench: deps
	bench/run.sh $(BENCH_ARGS)

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package from scratch, with Debian's build flags: debian/
# through dpkg-buildpackage (debhelper installs the units, conffiles and
# maintainer scripts the Debian way; see README), from a copy of the tree
# in $(DEB_DIR)/src (scripts/build-deb.sh); the .deb ends up in $(DEB_DIR).
# `make test` makes its own package of the tested build/ tree (ctest "deb").
DEB_DIR  ?= build-deb
deb: deps
	scripts/build-deb.sh $(DEB_DIR) $(JOBS)
	@ls $(DEB_DIR)/*.deb

# The from-scratch package through the test of `make test` (root: it
# installs the package on this machine, upgrades, removes and purges it).
test-deb: deb
	tests/packaging/test_deb.sh $$(ls $(DEB_DIR)/pushd_*.deb | grep -v dbgsym)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) $(DEB_DIR)
