# kiln-serve: the model server the package plugin puts into images.

SERVE_OBJS = $(O)/serve/main.o $(O)/serve/gate.o $(O)/serve/guard.o $(O)/serve/predict.o
LDLIBS_SERVE = $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -lmicrohttpd -lcrypto -lpthread

PROGRAMS += $(O)/kiln-serve

$(O)/kiln-serve: $(SERVE_OBJS) $(O)/libkilnplug.a
	$(CC) $(LDFLAGS) -o $@ $(SERVE_OBJS) $(LDLIBS_SERVE)

# The predictor's unit test (cmocka), without HTTP.
UNIT_TESTS += $(O)/tests/unit/test_ml_serve
$(O)/tests/unit/test_ml_serve: $(O)/tests/unit/test_ml_serve.o $(O)/serve/predict.o $(O)/libkilnplug.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -lcrypto -lcmocka

# Fuzzing (make fuzz): the predictor under libFuzzer with ASan and UBSan,
# FUZZ_TIME seconds from the seed requests in serve/fuzz/seed/.
SERVE_FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread

build-fuzz/fuzz_predict: serve/fuzz/fuzz_predict.c serve/predict.c serve/predict.h $(PLUGLIB_SRCS) $(wildcard plugins/lib/*.h)
	@mkdir -p $(@D)
	clang $(SERVE_FUZZ_CFLAGS) -o $@ serve/fuzz/fuzz_predict.c serve/predict.c $(PLUGLIB_SRCS) $(LDLIBS_PLUGLIB) -lcrypto

fuzz: fuzz-serve
fuzz-serve: build-fuzz/fuzz_predict
	@mkdir -p build-fuzz/corpus/predict
	@cp serve/fuzz/seed/* build-fuzz/corpus/predict/
	@echo "fuzz_predict: $(FUZZ_TIME)s"
	@build-fuzz/fuzz_predict -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/fuzz_predict- build-fuzz/corpus/predict \
		>build-fuzz/fuzz_predict.log 2>&1; \
	rc=$$?; grep -E "^(Done|==[0-9]+==ERROR|SUMMARY)" build-fuzz/fuzz_predict.log; \
	[ $$rc -eq 0 ] || { tail -40 build-fuzz/fuzz_predict.log; exit 1; }

.PHONY: fuzz-serve
