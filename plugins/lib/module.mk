# libkilnplug.a: the plugins' shared library (file formats, models and their
# training, metrics, OCI images), linked by the built-in plugins and kiln-serve.
# It is plain C on OpenBLAS, libcsv, jansson and libcrypto: no kiln header.

PLUGLIB_SRCS = $(sort $(wildcard plugins/lib/*.c))
PLUGLIB_OBJS = $(PLUGLIB_SRCS:%.c=$(O)/%.o)

# -O3 vectorises the element-wise loops (and -fno-math-errno lets sqrtf
# vectorise, sqrt being exact either way); neither reorders a float sum
# (that would take -ffast-math), so results stay the same bytes.
$(PLUGLIB_OBJS): OPT = -O3 -fno-math-errno

$(O)/libkilnplug.a: $(PLUGLIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# Unit tests of the library and of the plugins (through a stand-in host).
PLUGLIB_TEST_LIBS = $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -lcmocka -ldl
UNIT_TESTS += $(O)/tests/unit/test_ml_plugins

# It loads the plugins it tests from $(O)/plugins.
$(O)/tests/unit/test_ml_plugins: $(O)/tests/unit/test_ml_plugins.o $(O)/tests/unit/ml_host.o \
		$(O)/libkilnplug.a $(O)/plugins/train.so $(O)/plugins/featurize.so $(O)/plugins/test.so
	$(CC) $(LDFLAGS) -o $@ $(O)/tests/unit/test_ml_plugins.o $(O)/tests/unit/ml_host.o $(PLUGLIB_TEST_LIBS)

UNIT_TESTS += $(O)/tests/unit/test_ml_formats $(O)/tests/unit/test_ml_train $(O)/tests/unit/test_ml_curves \
	$(O)/tests/unit/test_ml_gbdt

$(O)/tests/unit/test_ml_%: $(O)/tests/unit/test_ml_%.o $(O)/libkilnplug.a
	$(CC) $(LDFLAGS) -o $@ $< $(PLUGLIB_TEST_LIBS)

# Fuzzing: the CSV, NPY and safetensors readers under libFuzzer and
# AddressSanitizer, built with clang into build-fuzz/. Each runs for
# FUZZ_TIME seconds (default 30) from a seed corpus of valid files.
FUZZ_TIME ?= 30
PLUGLIB_FUZZERS = csv npy safetensors
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Iinclude \
	-I/usr/include/x86_64-linux-gnu/openblas-pthread

build-fuzz/fuzz_%: plugins/lib/fuzz/fuzz_%.c $(PLUGLIB_SRCS) $(wildcard plugins/lib/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(PLUGLIB_SRCS) $(LDLIBS_PLUGLIB) -lcrypto

build-fuzz/corpus/%: plugins/lib/fuzz/seed.sh
	plugins/lib/fuzz/seed.sh $* $@

fuzz: fuzz-lib
fuzz-lib: $(PLUGLIB_FUZZERS:%=build-fuzz/fuzz_%) $(PLUGLIB_FUZZERS:%=build-fuzz/corpus/%)
	@for f in $(PLUGLIB_FUZZERS); do \
		echo "fuzz_$$f: $(FUZZ_TIME)s"; \
		build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -max_len=65536 \
			-print_final_stats=1 -artifact_prefix=build-fuzz/fuzz_$$f- \
			build-fuzz/corpus/$$f >build-fuzz/fuzz_$$f.log 2>&1; \
		rc=$$?; \
		grep -E "^(Done|==[0-9]+==ERROR|SUMMARY)" build-fuzz/fuzz_$$f.log; \
		[ $$rc -eq 0 ] || { tail -40 build-fuzz/fuzz_$$f.log; exit 1; }; \
	done

.PHONY: fuzz-lib
