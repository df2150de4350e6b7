# reconcile: build, test, demo. `make deps demo` then `make check` on a fresh Debian 12.
CC ?= cc
PKGS := yaml-0.1 libnl-3.0 libnl-route-3.0 json-c libmnl libkmod
# Compiled against, not linked: backends/libvirt-dl.c loads libvirt and libxml2
# with dlopen when a libvirt kind is first used, cmd/systemd-dl.c libsystemd
# when the daemon first notifies systemd, backends/gnutls-dl.c GnuTLS at the
# first https health check. Only tests that call libvirt link it.
DL_PKGS := libvirt libxml-2.0 libsystemd gnutls
# Evaluated on first use, not when make reads this file: in `make deps demo`
# the packages that pkg-config describes are installed by the first goal.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS) $(DL_PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)) -ldl)$(PKG_LIBS)
LIBVIRT_LIBS = $(eval LIBVIRT_LIBS := $$(shell pkg-config --libs libvirt))$(LIBVIRT_LIBS)
CMOCKA_LIBS = $(eval CMOCKA_LIBS := $$(shell pkg-config --libs cmocka))$(CMOCKA_LIBS)

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	-Wstrict-prototypes -fno-strict-aliasing $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS) -pthread
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD ?= build-san
endif
BUILD ?= build

CORE_SRC := $(wildcard reconcile/*.c) $(wildcard parsers/*.c)
BACKEND_SRC := $(wildcard backends/*.c)
CMD_SRC := cmd/output.c
DAEMON_SRC := cmd/daemon.c
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
BACKEND_OBJ := $(BACKEND_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HEADERS := $(wildcard */*.h)

PREFIX ?= /usr/local
DEPS := build-essential pkg-config clang libclang-rt-14-dev valgrind make libyaml-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev \
	libmnl-dev libkmod-dev libgnutls28-dev libvirt-dev libxml2-dev libcmocka-dev libsystemd-dev libjson-c-dev \
	iproute2 kmod procps python3 systemd bc util-linux \
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 ovmf qemu-utils dnsmasq-base iptables \
	busybox-static cpio xz-utils libisofs-dev ipvsadm ipset keepalived openvswitch-switch strace openssl jq git gnupg ansible-core

.PHONY: all deps demo check test unit kernel clean bench bench-deps install other-compiler fuzz valgrind sanitized fuzz-build
all: $(BUILD)/reconcile

# In `make -jN deps demo` nothing compiles before deps has installed the packages.
AFTER_DEPS := $(filter deps,$(MAKECMDGOALS))

$(BUILD)/obj/%.o: %.c $(HEADERS) | $(AFTER_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/reconcile: $(BUILD)/obj/cmd/main.o $(BUILD)/obj/cmd/daemon.o $(BUILD)/obj/cmd/confirm.o $(BUILD)/obj/cmd/status.o \
		$(BUILD)/obj/cmd/systemd-dl.o $(CMD_OBJ) $(CORE_OBJ) $(BACKEND_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link the core with a fake link backend (tests/unit/fake-backends.c)
# and the real libvirt backend, which they drive against test:///default.
TEST_BACKEND_OBJ := $(filter-out $(BUILD)/obj/backends/link.o,$(BACKEND_OBJ))
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/tests/fake-backends.o $(CMD_OBJ) $(CORE_OBJ) $(TEST_BACKEND_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fake-backends.o $(HARNESS_OBJ) $(CMD_OBJ) $(CORE_OBJ) $(TEST_BACKEND_OBJ) $(LDLIBS) $(CMOCKA_LIBS)

# These call libvirt themselves (a test:///default connection of their own),
# through the harness they share (tests/unit/libvirt-harness.c).
LIBVIRT_TESTS := $(BUILD)/tests/test-libvirt $(BUILD)/tests/test-tuning-domain $(BUILD)/tests/test-cloudinit $(BUILD)/tests/test-disks
$(LIBVIRT_TESTS): LDLIBS += $(LIBVIRT_LIBS)
$(LIBVIRT_TESTS): HARNESS_OBJ = $(BUILD)/tests/libvirt-harness.o
$(LIBVIRT_TESTS): $(BUILD)/tests/libvirt-harness.o tests/unit/libvirt-harness.h

# Tests that take the real link backend instead of the fake: they call the
# backends' pure functions (diff) and never open a socket.
REAL_LINK_TESTS := $(BUILD)/tests/test-diff
$(REAL_LINK_TESTS): $(BUILD)/tests/%: tests/unit/%.c $(CMD_OBJ) $(CORE_OBJ) $(BACKEND_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CMD_OBJ) $(CORE_OBJ) $(BACKEND_OBJ) $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/fake-backends.o: tests/unit/fake-backends.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/libvirt-harness.o: tests/unit/libvirt-harness.c tests/unit/libvirt-harness.h $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEPS)

demo: $(BUILD)/reconcile
	BUILD=$(BUILD) ./tests/demo.sh

# The test command: unit tests unprivileged, kernel tests as root in throw-away namespaces.
check: $(BUILD)/reconcile $(UNIT_BIN) other-compiler $(if $(SANITIZE),,sanitized) fuzz-build
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) SAN_BUILD=$(if $(SANITIZE),,build-san) ./tests/run.sh

# The plain `make check` also runs the unit tests and the quick kernel suites
# built with ASan and UBSan (build-san/), so CI always runs the sanitizer build.
sanitized:
	@$(MAKE) --no-print-directory -s SANITIZE=1 BUILD=build-san build-san/reconcile \
		$(UNIT_SRC:tests/unit/%.c=build-san/tests/%)

# The code must build warning-free with both gcc and clang: check builds the other one too.
other-compiler:
	@if command -v clang >/dev/null && command -v gcc >/dev/null; then \
		$(MAKE) --no-print-directory -s BUILD=build-clang CC=clang SANITIZE= all && \
		$(MAKE) --no-print-directory -s BUILD=build-gcc CC=gcc SANITIZE= all; fi

unit: $(UNIT_BIN)
	BUILD=$(BUILD) ./tests/run.sh unit

kernel: $(BUILD)/reconcile
	BUILD=$(BUILD) ./tests/run.sh kernel

# Unit tests and the link, ipset and invalid-input kernel tests under valgrind:
# any memory error or definite leak fails.
valgrind: $(BUILD)/reconcile $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 $$t >/dev/null 2>$$t.vg || \
		{ echo "valgrind: $$t"; cat $$t.vg; fail=1; }; done; [ $$fail = 0 ]
	for t in test-links test-netkinds test-ipset test-invalid; do VALGRIND=1 BUILD=$(BUILD) bash tests/kernel/$$t.sh; done | tee $(BUILD)/valgrind.log
	! grep -q '^not ok' $(BUILD)/valgrind.log

# The peers the benchmarks compare against; not needed by `make check`.
BENCH_DEPS := ifupdown2 ansible python3-libvirt time strace bc keepalived
bench-deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BENCH_DEPS)

bench: $(BUILD)/reconcile
	BUILD=$(BUILD) ./bench/run.sh

SBINDIR ?= $(PREFIX)/sbin
UNITDIR ?= /lib/systemd/system
$(BUILD)/reconcile.service: systemd/reconcile.service.in
	@mkdir -p $(BUILD)
	sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

install: $(BUILD)/reconcile $(BUILD)/reconcile.service
	install -D -m 0755 $(BUILD)/reconcile $(DESTDIR)$(SBINDIR)/reconcile
	install -D -m 0644 $(BUILD)/reconcile.service $(DESTDIR)$(UNITDIR)/reconcile.service
	install -D -m 0644 doc/reconcile.8 $(DESTDIR)$(PREFIX)/share/man/man8/reconcile.8
	install -D -m 0644 doc/manifests.md $(DESTDIR)$(PREFIX)/share/doc/reconcile/manifests.md
	install -D -m 0644 completion/reconcile.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/reconcile
	install -d -m 0700 $(DESTDIR)/etc/reconcile/manifests.d
	install -m 0600 systemd/00-example.yaml.sample $(DESTDIR)/etc/reconcile/manifests.d/00-example.yaml.sample

clean:
	rm -rf build build-san build-clang build-gcc

# make fuzz FUZZ_SECONDS=N: libFuzzer over the parser, seeded from examples/, testdata/ and tests/fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
$(BUILD)/fuzz-manifest: tests/fuzz/fuzz-manifest.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(BUILD)
	clang $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz-manifest.c $(CORE_SRC) $(BACKEND_SRC) $(PKG_LIBS)

# Built for the smoke run in make check when clang has libFuzzer; skipped there otherwise.
fuzz-build:
	@if echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void) d; (void) n; return 0; }' | \
		clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then $(MAKE) --no-print-directory -s $(BUILD)/fuzz-manifest; fi

fuzz: $(BUILD)/fuzz-manifest
	@mkdir -p $(BUILD)/fuzz-corpus
	cp examples/*.yaml $(BUILD)/fuzz-corpus/ 2>/dev/null || true
	find testdata -name '*.yaml' -exec cp {} $(BUILD)/fuzz-corpus/ \; 2>/dev/null || true
	cp tests/fuzz/corpus/*.yaml $(BUILD)/fuzz-corpus/ 2>/dev/null || true
	$(BUILD)/fuzz-manifest -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 $(BUILD)/fuzz-corpus
