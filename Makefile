# kiln — build, test, install.
#
#   make                  build ./kiln, kiln-run and the built-in plugins into build/
#   make test             build with AddressSanitizer+UBSan into build-san/ and run every test
#   make test SAN=0       the same suite against the plain build
#   make install PREFIX=… bin/kiln, lib/kiln/{kiln-run,plugins/}, include/kiln/plugin.h
#   make fuzz             build the fuzz targets (clang, libFuzzer) and run each briefly
#   make FAULT=1          a plain build with failure injection (core/fault.h) into build-fault/;
#                         the sanitizer build always has it, the release build never
#
# Each component adds itself through a module.mk beside its sources.

PREFIX ?= /usr/local
CC ?= cc
OPT ?= -O2
SAN ?= 0
O ?= build

WARN = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
KILN_VERSION = 0.1.0
# -Iinclude is all a plugin sees of kiln: the plugin ABI. Only the engine
# and its unit tests get -Icore (below), so a plugin, kiln-serve or the
# plugins' library that includes a core header does not build.
CPPFLAGS += -DKILN_VERSION=\"$(KILN_VERSION)\" -D_GNU_SOURCE -Iinclude -I/usr/include/lua5.4 \
	-I/usr/include/x86_64-linux-gnu/openblas-pthread
CFLAGS += -std=gnu11 $(OPT) -g -fPIC $(WARN)
LDLIBS_CORE = -llua5.4 -lxxhash -ljansson -lcsv -lexpat -lzstd -lseccomp -ldl -lm
LDLIBS_PLUGLIB = -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lcsv -ljansson -lm

ifeq ($(SAN),1)
O = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
# The sanitizer build links libcurl, where the others load it on first use
# (core/curl.h): LeakSanitizer's scan of a dlopen'd library's dynamic TLS
# (GnuTLS's, under libcurl) crashes on this glibc ("Tracer caught signal
# 11", t6104). Linked, the same libcurl is what kiln_curl_load finds, so
# the calls go the same way; t4081 checks the plain build for the rest.
LDLIBS_CORE += -lcurl
# The test build has failure injection (core/fault.h): KILN_FAULT=KIND:N.
FAULT = 1
endif
# `make FAULT=1`: a plain build with failure injection, in build-fault/.
ifeq ($(FAULT),1)
CPPFLAGS += -DKILN_FAULT
ifneq ($(SAN),1)
O = build-fault
endif
endif

$(O)/core/%.o $(O)/tests/unit/%.o: CPPFLAGS += -Icore

PLUGINS =
PROGRAMS =
UNIT_TESTS =
FUZZERS =

all: programs plugins

include $(sort $(wildcard core/module.mk plugins/*/module.mk serve/module.mk tests/module.mk))

programs: $(PROGRAMS)
plugins: $(PLUGINS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(O) -name '*.d' 2>/dev/null)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/kiln/plugins \
		$(DESTDIR)$(PREFIX)/include/kiln
	install -m 755 $(O)/kiln $(DESTDIR)$(PREFIX)/bin/kiln
	install -m 755 $(O)/kiln-run $(DESTDIR)$(PREFIX)/lib/kiln/kiln-run
	install -m 644 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/kiln/plugins/
	install -m 644 include/kiln/plugin.h $(DESTDIR)$(PREFIX)/include/kiln/plugin.h
	$(if $(filter $(O)/kiln-serve,$(PROGRAMS)),install -m 755 $(O)/kiln-serve $(DESTDIR)$(PREFIX)/bin/kiln-serve)

# `make test` defaults to the sanitizer build; SAN=0 tests the plain one.
ifeq ($(origin SAN),file)
test:
	@$(MAKE) --no-print-directory SAN=1 test
else
test: all $(UNIT_TESTS)
	tools/check-plugin-boundary.sh
	tools/check-layers.sh $(O)
	KILN_BUILD=$(CURDIR)/$(O) tests/run.sh
endif

clean:
	rm -rf build build-san build-fault kiln

# Keep intermediate objects (the unit tests'), so make deletes nothing after the suite's last line.
.SECONDARY:

.PHONY: all programs plugins install test clean fuzz
