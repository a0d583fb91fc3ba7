# The engine: ./kiln (the command) and kiln-run (starts one plugin run).
#
# kiln-run is small on purpose: it is started once per build step, so it links
# only what running a plugin needs.

RUN_SRCS = core/runner.c core/sandbox.c core/rootfs.c core/syscalls.c core/value.c core/util.c core/context.c core/statuspipe.c core/gpu.c core/checkpoint.c core/digest.c core/fs.c
CORE_SRCS = $(filter-out core/main.c core/runner.c core/sandbox.c core/rootfs.c core/syscalls.c,$(wildcard core/*.c))
CORE_OBJS = $(CORE_SRCS:%.c=$(O)/%.o)
RULES_LUA = $(sort $(wildcard rules/*.lua))

PROGRAMS += $(O)/kiln $(O)/kiln-run
ifeq ($(O),build)
PROGRAMS += kiln
endif

$(O)/libkilncore.a: $(CORE_OBJS) $(O)/core/rules.o
	@rm -f $@
	$(AR) rcs $@ $^

# The rule library is compiled into the binary.
$(O)/core/rules.c: $(RULES_LUA) tools/embed.sh
	@mkdir -p $(@D)
	tools/embed.sh $(RULES_LUA) > $@

$(O)/core/rules.o: $(O)/core/rules.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/kiln: $(O)/core/main.o $(O)/libkilncore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE)

$(O)/kiln-run: $(RUN_SRCS:%.c=$(O)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lseccomp -lxxhash -ldl -lm

# ./kiln in the source tree is the plain build.
kiln: build/kiln
	ln -sf build/kiln kiln
