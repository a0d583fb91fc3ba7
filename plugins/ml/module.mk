# libkilnml.a: the ML library shared by the ML plugins and kiln-serve.

ML_SRCS = $(sort $(wildcard plugins/ml/*.c))
ML_OBJS = $(ML_SRCS:%.c=$(O)/%.o)
CPPFLAGS += -Iplugins/ml

# -O3 vectorises the element-wise loops (and -fno-math-errno lets sqrtf
# vectorise, sqrt being exact either way); neither reorders a float sum
# (that would take -ffast-math), so results stay the same bytes.
$(ML_OBJS): OPT = -O3 -fno-math-errno

$(O)/libkilnml.a: $(ML_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# Unit tests of the library and of the plugins (through a stand-in host).
ML_TEST_LIBS = $(O)/libkilnml.a $(LDLIBS_ML) -lcmocka -ldl
UNIT_TESTS += $(O)/tests/unit/test_ml_plugins

# It loads the plugins it tests from $(O)/plugins.
$(O)/tests/unit/test_ml_plugins: $(O)/tests/unit/test_ml_plugins.o $(O)/tests/unit/ml_host.o \
		$(O)/libkilnml.a $(O)/plugins/train.so $(O)/plugins/featurize.so $(O)/plugins/test.so
	$(CC) $(LDFLAGS) -o $@ $(O)/tests/unit/test_ml_plugins.o $(O)/tests/unit/ml_host.o $(ML_TEST_LIBS)

UNIT_TESTS += $(O)/tests/unit/test_ml_formats $(O)/tests/unit/test_ml_train

$(O)/tests/unit/test_ml_%: $(O)/tests/unit/test_ml_%.o $(O)/libkilnml.a
	$(CC) $(LDFLAGS) -o $@ $< $(ML_TEST_LIBS)

# Fuzzing: the CSV, NPY and safetensors readers under libFuzzer and
# AddressSanitizer, built with clang into build-fuzz/. Each runs for
# FUZZ_TIME seconds (default 30) from a seed corpus of valid files.
FUZZ_TIME ?= 30
ML_FUZZERS = csv npy safetensors
ML_FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Iinclude \
	-Iplugins/ml -I/usr/include/x86_64-linux-gnu/openblas-pthread

build-fuzz/fuzz_%: plugins/ml/fuzz/fuzz_%.c $(ML_SRCS) plugins/ml/ml.h
	@mkdir -p $(@D)
	clang $(ML_FUZZ_CFLAGS) -o $@ $< $(ML_SRCS) $(LDLIBS_ML)

build-fuzz/corpus/%: plugins/ml/fuzz/seed.sh
	plugins/ml/fuzz/seed.sh $* $@

fuzz: fuzz-ml
fuzz-ml: $(ML_FUZZERS:%=build-fuzz/fuzz_%) $(ML_FUZZERS:%=build-fuzz/corpus/%)
	@for f in $(ML_FUZZERS); do \
		echo "fuzz_$$f: $(FUZZ_TIME)s"; \
		build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -max_len=65536 \
			-print_final_stats=1 -artifact_prefix=build-fuzz/fuzz_$$f- \
			build-fuzz/corpus/$$f >build-fuzz/fuzz_$$f.log 2>&1; \
		rc=$$?; \
		grep -E "^(Done|==[0-9]+==ERROR|SUMMARY)" build-fuzz/fuzz_$$f.log; \
		[ $$rc -eq 0 ] || { tail -40 build-fuzz/fuzz_$$f.log; exit 1; }; \
	done

.PHONY: fuzz-ml
