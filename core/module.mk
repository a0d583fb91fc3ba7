# The engine: ./kiln (the command) and kiln-run (starts one plugin run).
#
# kiln-run is small on purpose: it is started once per build step, so it links
# only what running a plugin needs.

RUN_SRCS = core/runner.c core/sandbox.c core/cgroup.c core/rootfs.c core/syscalls.c core/userns.c core/value.c core/util.c core/fault.c core/context.c core/statuspipe.c core/gpu.c core/checkpoint.c core/digest.c core/fs.c core/stepserver.c
CORE_SRCS = $(filter-out core/main.c core/runner.c core/sandbox.c core/rootfs.c,$(wildcard core/*.c))
CORE_OBJS = $(CORE_SRCS:%.c=$(O)/%.o)
RULES_LUA = $(sort $(wildcard rules/*.lua))

PROGRAMS += $(O)/kiln $(O)/kiln-run
ifeq ($(O),build)
PROGRAMS += kiln
endif

$(O)/libkilncore.a: $(CORE_OBJS) $(O)/core/rules.o $(O)/core/report_assets.o
	@rm -f $@
	$(AR) rcs $@ $^

# The rule library is compiled into the binary.
$(O)/core/rules.c: $(RULES_LUA) tools/embed.sh
	@mkdir -p $(@D)
	tools/embed.sh $(RULES_LUA) > $@

$(O)/core/rules.o: $(O)/core/rules.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# kiln report's page carries vega, vega-lite and vega-embed, built in from
# report/node_modules (bootstrap.sh runs npm ci there, from package-lock.json).
REPORT_VENDOR = report/node_modules/vega/build/vega.min.js \
	report/node_modules/vega-lite/build/vega-lite.min.js \
	report/node_modules/vega-embed/build/vega-embed.min.js

$(REPORT_VENDOR):
	@echo "kiln: $@ is missing: run ./bootstrap.sh (it runs npm ci in report/)" >&2; exit 1

$(O)/core/report_assets.o: core/report_assets.S report/page.js report/page.css $(REPORT_VENDOR)
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

$(O)/kiln: $(O)/core/main.o $(O)/libkilncore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE)

# -z now: the dynamic loader resolves every symbol once, at kiln-run's start,
# rather than on first use in each of the sandbox's processes it forks
# (setup, init, the step), each of which paid for the lookups and a copied
# page of its own. libseccomp is linked in (libseccomp-dev's archive): one
# library fewer for the loader to find, map and search at every step's
# start, where kiln compiles the filter and kiln-run seldom calls it
# (docs/sandbox.md, "Cost"). libxxhash's archive lacks its dispatcher, and
# the plugins load libjansson anyway.
$(O)/kiln-run: $(RUN_SRCS:%.c=$(O)/%.o)
	$(CC) $(LDFLAGS) -Wl,-z,now -o $@ $^ -ljansson -Wl,-Bstatic -lseccomp -Wl,-Bdynamic -lxxhash -ldl -lm

# ./kiln in the source tree is the plain build.
kiln: build/kiln
	ln -sf build/kiln kiln

# Fuzzing (make fuzz): the engine's readers of what it did not write
# itself, or wrote on a disk that may have changed it, under libFuzzer with
# ASan and UBSan: Kilnfile evaluation, the state, the lock, the graph
# cache and action entries (a remote cache's answers). Built with clang
# into build-fuzz/ from the core sources; seeds from core/fuzz/seed.sh.
CORE_FUZZERS = kilnfile state lock graphcache action
CORE_FUZZ_CFLAGS = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -DKILN_VERSION=\"$(KILN_VERSION)\" -D_GNU_SOURCE -Iinclude -Icore -I/usr/include/lua5.4
CORE_FUZZ_OBJS = $(CORE_SRCS:%.c=build-fuzz/obj/%.o) build-fuzz/obj/core/rules.o
# Evaluation of a hostile Kilnfile may loop or grow: libFuzzer's fork mode
# goes on past a timeout or an out-of-memory, each kept as an artifact.
# Paths are absolute: the Kilnfile target works in a scratch folder.
# Inputs that once failed are kept in core/fuzz/regress/KIND/ and join the
# corpus, so each run tries them again.
FUZZ_OPTS_kilnfile = -dict=$(CURDIR)/core/fuzz/kilnfile.dict -fork=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=5 -rss_limit_mb=1024

build-fuzz/obj/core/rules.c: $(RULES_LUA) tools/embed.sh
	@mkdir -p $(@D)
	tools/embed.sh $(RULES_LUA) > $@

build-fuzz/obj/core/rules.o: build-fuzz/obj/core/rules.c
	clang $(CORE_FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/obj/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(@D)
	clang $(CORE_FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/libkilncore.a: $(CORE_FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

build-fuzz/fuzz_core_%: core/fuzz/fuzz_%.c build-fuzz/libkilncore.a
	clang $(CORE_FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libkilncore.a $(LDLIBS_CORE)

build-fuzz/corpus/core_%: core/fuzz/seed.sh build/kiln
	KILN=$(CURDIR)/build/kiln core/fuzz/seed.sh $* $@

fuzz: fuzz-core
fuzz-core: $(CORE_FUZZERS:%=build-fuzz/fuzz_core_%) $(CORE_FUZZERS:%=build-fuzz/corpus/core_%)
	@for f in $(CORE_FUZZERS); do \
		echo "fuzz_core_$$f: $(FUZZ_TIME)s"; \
		opts=; case $$f in kilnfile) opts="$(FUZZ_OPTS_kilnfile)";; *) opts="-timeout=5";; esac; \
		cp core/fuzz/regress/$$f/* build-fuzz/corpus/core_$$f/ 2>/dev/null; \
		$(CURDIR)/build-fuzz/fuzz_core_$$f -max_total_time=$(FUZZ_TIME) -max_len=65536 $$opts \
			-print_final_stats=1 -artifact_prefix=$(CURDIR)/build-fuzz/fuzz_core_$$f- \
			$(CURDIR)/build-fuzz/corpus/core_$$f >build-fuzz/fuzz_core_$$f.log 2>&1; \
		rc=$$?; \
		grep -E "^(Done|==[0-9]+==ERROR|SUMMARY)|INFO: fuzzed for" build-fuzz/fuzz_core_$$f.log; \
		[ $$rc -eq 0 ] || { tail -40 build-fuzz/fuzz_core_$$f.log; exit 1; }; \
	done

.PHONY: fuzz-core
