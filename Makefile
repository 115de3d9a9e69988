# q: a daemonless job queue.  See README.md and spool-format.md.
#
# bin/q links libc only (jsmn is a header): every command, the worker's
# claim loop and the agent front ends start in about a millisecond.
# Helpers that need libgit2 or libcurl get their own executables under
# bin/ with flags from pkg-config, so their start-up cost stays out of q.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

# The project's own flags come after the user's, so `make CFLAGS=-O0`
# changes optimisation without losing the warnings, the language level
# or the include path.
Q_CFLAGS = -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter
Q_CPPFLAGS = -D_GNU_SOURCE -Isrc -DQ_LIBEXECDIR='"$(LIBEXECDIR)/q"' -MMD -MP
ifeq ($(SANITIZE),1)
Q_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
Q_LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = $(Q_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(Q_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(Q_LDFLAGS)

LIB_SRC = src/util.c src/file.c src/json.c src/job.c src/types.c src/config.c \
	$(wildcard src/spool/*.c) src/worker.c src/supervise.c src/event.c src/view.c src/proc.c \
	src/ops.c src/gh.c src/gitargs.c
# Agent front ends: sessions and hooks over the spool (q hook, q next).
LIB_SRC += src/session.c src/hook.c
CMD_SRC = $(wildcard src/cmd/*.c)
# The MCP server (q mcp): a front end, linked into bin/q only.
MCP_SRC = $(wildcard src/mcp/*.c)
LIB_OBJ = $(LIB_SRC:.c=.o)
CMD_OBJ = $(CMD_SRC:.c=.o) $(MCP_SRC:.c=.o)
UNIT = $(patsubst tests/unit/%.c,tests/unit/%,$(wildcard tests/unit/*.c))

# Helper executables for typed jobs live in $(LIBEXECDIR)/q/.  Each links
# its one library and is built only when pkg-config finds that library,
# so bin/q builds (and starts in a millisecond) without any of them.
HELPERS =
# q-git runs git jobs (src/gitjob.c, the only includer of git2.h).
GIT2_LIBS := $(shell $(PKG_CONFIG) --libs libgit2 2>/dev/null)
ifneq ($(GIT2_LIBS),)
HELPERS += bin/q-git
endif

# q-github: GitHub jobs over libcurl (src/github/; http.c alone includes curl.h).
CURL_LIBS := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)
ifneq ($(CURL_LIBS),)
CURL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
HELPERS += bin/q-github
endif
GITHUB_OBJ = src/github/main.o src/github/http.o

# q-remote: the PostgreSQL remote (src/remote/; pg.c alone includes libpq-fe.h).
PQ_LIBS := $(shell $(PKG_CONFIG) --libs libpq 2>/dev/null)
ifneq ($(PQ_LIBS),)
PQ_CFLAGS := $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null)
HELPERS += bin/q-remote
endif
REMOTE_OBJ = $(patsubst %.c,%.o,$(wildcard src/remote/*.c))

all: bin/q $(HELPERS)

bin/q-github: $(GITHUB_OBJ) $(LIB_OBJ)
	@mkdir -p bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CURL_LIBS)

bin/q-remote: $(REMOTE_OBJ) $(LIB_OBJ)
	@mkdir -p bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PQ_LIBS)

src/remote/pg.o: src/remote/pg.c
	$(CC) $(ALL_CFLAGS) $(PQ_CFLAGS) -c -o $@ $<

src/github/http.o: src/github/http.c
	$(CC) $(ALL_CFLAGS) $(CURL_CFLAGS) -c -o $@ $<

# bin/q is linked statically (glibc's libc.a, position-independent, so
# still loaded at a random address): a process that loads no
# shared library starts about 0.3 ms sooner here, a fifth of a q add.
# STATIC=0 links it against libc.so.6 (make valgrind does: memcheck must
# replace malloc); sanitizer builds are dynamic too.  src/link.mode holds
# the choice, so changing it relinks.
STATIC ?= $(if $(filter 1,$(SANITIZE)),0,1)
Q_STATIC = $(if $(filter 1,$(STATIC)),-static-pie)

src/link.mode: FORCE
	@echo '$(Q_STATIC)' | cmp -s - $@ || echo '$(Q_STATIC)' >$@

FORCE:

bin/q: src/q.o $(CMD_OBJ) $(LIB_OBJ) src/link.mode
	@mkdir -p bin
	$(CC) $(ALL_LDFLAGS) $(Q_STATIC) -o $@ $(filter %.o,$^)

%.o: %.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# libgit2's option macros leave fields to their zero defaults on purpose.
src/gitjob.o: src/gitjob.c
	$(CC) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags libgit2) -Wno-missing-field-initializers -c -o $@ $<

bin/q-git: src/gitjob.o $(LIB_OBJ)
	@mkdir -p bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GIT2_LIBS)

# The suite's "older q" sharing a spool with bin/q: the same code, but
# knowing only exec jobs (tests/t0029-types.sh).
tests/q-exec-only: src/q.o $(CMD_OBJ) $(filter-out src/types.o,$(LIB_OBJ)) tests/types-exec-only.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

tests/types-exec-only.o: src/types.c
	$(CC) $(ALL_CFLAGS) -DQ_EXEC_ONLY -c -o $@ $<

tests/unit/%: tests/unit/%.c $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_OBJ)

-include $(wildcard src/*.d src/*/*.d tests/unit/*.d tests/*.d)

# Fuzzing with libFuzzer (fuzz/*.c).  The library is compiled again with
# clang and the sanitizers into fuzz/out/obj/ and linked into each
# target.  `make fuzz` runs every target for FUZZ_SECONDS on its
# committed corpus fuzz/corpus/NAME/, writing new inputs to
# fuzz/out/NAME-new/ and crashes to fuzz/crashes/; `make fuzz-replay`
# runs each target once over its committed corpus.
FUZZ_CC ?= clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -Isrc -DQ_LIBEXECDIR='"$(LIBEXECDIR)/q"'
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = fuzz_json fuzz_job fuzz_events fuzz_config fuzz_add_args
FUZZ_BIN = $(FUZZ_TARGETS:%=fuzz/out/%)
FUZZ_OBJ = $(patsubst src/%.c,fuzz/out/obj/%.o,$(LIB_SRC) src/cmd/common.c src/cmd/add.c \
	src/cmd/batch.c)

# With clang, check also replays the fuzz corpus under ASan and UBSan.  The
# tests spend much of their time waiting (fsync, children, servers), so
# they run four at a time even on two cores, the longest first (a long
# one started last would run alone at the end).  With SANITIZE=1 the
# short crash and stress runs are shorter still: they look for lost and
# doubled jobs, which the plain run checks at full size.
PROVE_JOBS ?= 4
SLOW_TESTS = tests/t0401-remote.sh tests/t0101-faults.sh tests/t0104-hardening.sh \
	tests/t0105-crash-points.sh tests/t0403-remote-lost.sh tests/t0102-stress-short.sh \
	tests/t0402-remote-chaos.sh tests/t0201-git-http.sh tests/t0100-crash-short.sh \
	tests/t0005-concurrency.sh
TESTS = $(SLOW_TESTS) $(filter-out $(SLOW_TESTS),$(sort $(wildcard tests/t[0-9]*.sh)))
check: all $(UNIT) tests/q-exec-only $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),fuzz-replay)
	QTEST_SANITIZE=$(SANITIZE) QTEST_PYTHON=$$(python3 -c 'import sys; print(sys.executable)') prove -j$(PROVE_JOBS) $(TESTS) $(UNIT)

fuzz/out/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard fuzz/out/obj/*.d fuzz/out/obj/*/*.d)

$(FUZZ_BIN): fuzz/out/%: fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_OBJ)

fuzz: $(FUZZ_BIN)
	@fuzz/run -t $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-replay: $(FUZZ_BIN)
	@fuzz/run -r $(FUZZ_TARGETS)

# What CI runs: the whole suite with ASan and UBSan, then as built (a
# clean build each time; the normal build is what is left).
ci:
	$(MAKE) clean
	$(MAKE) -j2 check SANITIZE=1
	$(MAKE) clean
	$(MAKE) -j2 check

# The shell suite with every q under valgrind memcheck (tests/valgrind-q:
# one log per process, empty unless valgrind found an error or a definite
# leak); the logs that are not empty are listed at the end.  Timing checks
# of the suite may fail under valgrind's slowness; the verdict is the logs.
valgrind:
	$(MAKE) STATIC=0 all
	rm -rf tests/valgrind-logs && mkdir -p tests/valgrind-logs
	-Q_VALGRIND=$(CURDIR)/tests/valgrind-logs prove -j2 tests/t00[0-9]*.sh
	@n=$$(ls tests/valgrind-logs | wc -l); \
	bad=$$(find tests/valgrind-logs -type f -size +0); \
	if [ -n "$$bad" ]; then echo "valgrind: errors in $$(echo $$bad | wc -w) of $$n processes:"; \
		echo "$$bad"; exit 1; fi; \
	echo "valgrind: $$n q processes, 0 errors"

# bench/peers first: bench/run ends by deleting some 400,000 files, and on
# ext4 files made in the minutes after cost more (see bench/peers).
bench: all
	bench/peers
	bench/run

bench-github: all
	bench/github

# q mcp's start_job and poll_job round trips against q add (bench/mcp).
bench-mcp: all
	bench/mcp

# q hook claude per event on a spool of 10,000 jobs; SessionEnd with 1,000 leases.
bench-hook: all
	bench/hook
.PHONY: bench-hook

crash: all
	tests/crash.sh --rounds $${ROUNDS:-1000}

# The crash suite with concurrent cancel, retry, hold, release, gc and
# fsck, and jobs that leave detached children (tests/crash.sh --chaos).
chaos: all
	tests/crash.sh --rounds $${ROUNDS:-300} --chaos $(if $(filter 1,$(STAY)),--stay)

stress: all
	tests/stress.sh
.PHONY: stress

# The fault suite whole: every call failing with ENOSPC and with EIO, then
# killed at every call, the remote's paths too (make check: ENOSPC at every
# call, kills at every other).
faults: all tests/q-exec-only
	tests/faults.sh
	tests/faults.sh --crash --max-n 300
	QTEST_CRASH_STEP=1 prove tests/t0401-remote.sh tests/t0040-hook.sh
.PHONY: faults

# The remote's chaos test at size: 3 hosts x 3,340 jobs (10,020) drained
# while workers are killed and PostgreSQL is crashed twice (JOBS=N per host).
chaos-remote: all
	QTEST_REMOTE_JOBS=$${JOBS:-3340} prove -v tests/t0402-remote-chaos.sh
.PHONY: chaos-remote

# git jobs against q add and git clone (bench/git --quick for a short run).
bench-git: all
	bench/git
.PHONY: bench-git

# The PostgreSQL remote: claims/s against the local drain, recovery after
# kill -9 and after a vanished host (bench/remote --quick for a short run).
bench-remote: all
	bench/remote
.PHONY: bench-remote

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 bin/q $(DESTDIR)$(BINDIR)/
	$(if $(HELPERS),install -d $(DESTDIR)$(LIBEXECDIR)/q && install -m 755 $(HELPERS) $(DESTDIR)$(LIBEXECDIR)/q/)
	install -m 644 q.1 $(DESTDIR)$(MANDIR)/man1/q.1
	install -d $(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(DATADIR)/zsh/site-functions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	bin/q completion bash >$(DESTDIR)$(DATADIR)/bash-completion/completions/q
	bin/q completion zsh >$(DESTDIR)$(DATADIR)/zsh/site-functions/_q
	bin/q completion fish >$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/q.fish

format:
	clang-format -i src/*.c src/*.h src/*/*.c src/*/*.h tests/unit/*.c

clean:
	rm -f bin/q bin/q-git bin/q-github bin/q-remote $(HELPERS) src/*.o src/*/*.o src/*.d src/*/*.d $(UNIT) tests/unit/*.d \
		tests/q-exec-only tests/*.o tests/*.d src/link.mode

.PHONY: all check ci valgrind bench bench-github bench-mcp crash chaos install format clean fuzz fuzz-replay FORCE
