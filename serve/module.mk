# kiln-serve: the model server the package plugin puts into images.

SERVE_OBJS = $(O)/serve/main.o $(O)/serve/predict.o
LDLIBS_SERVE = $(O)/libkilnml.a $(LDLIBS_ML) -lmicrohttpd -lcrypto -lpthread

PROGRAMS += $(O)/kiln-serve

$(O)/kiln-serve: $(SERVE_OBJS) $(O)/libkilnml.a
	$(CC) $(LDFLAGS) -o $@ $(SERVE_OBJS) $(LDLIBS_SERVE)

# The predictor's unit test (cmocka), without HTTP.
UNIT_TESTS += $(O)/tests/unit/test_ml_serve
$(O)/tests/unit/test_ml_serve.o: CPPFLAGS += -Iserve
$(O)/tests/unit/test_ml_serve: $(O)/tests/unit/test_ml_serve.o $(O)/serve/predict.o $(O)/libkilnml.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(O)/libkilnml.a $(LDLIBS_ML) -lcrypto -lcmocka
