# The engine: ./kiln (the command) and kiln-run (starts one plugin run).
#
# kiln-run is small on purpose: it is started once per build step, so it links
# only what running a plugin needs.

RUN_SRCS = core/runner.c core/sandbox.c core/rootfs.c core/syscalls.c core/value.c core/util.c core/context.c core/statuspipe.c
CORE_SRCS = $(filter-out core/main.c core/runner.c core/sandbox.c core/rootfs.c core/syscalls.c,$(wildcard core/*.c))
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

$(O)/kiln-run: $(RUN_SRCS:%.c=$(O)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lseccomp -lxxhash -ldl -lm

# ./kiln in the source tree is the plain build.
kiln: build/kiln
	ln -sf build/kiln kiln
