# libkilnml.a: the ML library shared by the ML plugins and kiln-serve.

ML_SRCS = $(sort $(wildcard plugins/ml/*.c))
ML_OBJS = $(ML_SRCS:%.c=$(O)/%.o)
CPPFLAGS += -Iplugins/ml

$(O)/libkilnml.a: $(ML_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# Unit tests of the library and of the plugins (through a stand-in host).
ML_TEST_LIBS = $(O)/libkilnml.a $(LDLIBS_ML) -lcmocka -ldl
UNIT_TESTS += $(O)/tests/unit/test_ml_plugins

$(O)/tests/unit/test_ml_plugins: $(O)/tests/unit/test_ml_plugins.o $(O)/tests/unit/ml_host.o \
		$(O)/libkilnml.a $(filter $(O)/plugins/train.so $(O)/plugins/featurize.so \
		$(O)/plugins/test.so $(O)/plugins/validate.so,$(PLUGINS))
	$(CC) $(LDFLAGS) -o $@ $(O)/tests/unit/test_ml_plugins.o $(O)/tests/unit/ml_host.o $(ML_TEST_LIBS)

UNIT_TESTS += $(O)/tests/unit/test_ml_formats $(O)/tests/unit/test_ml_train

$(O)/tests/unit/test_ml_%: $(O)/tests/unit/test_ml_%.o $(O)/libkilnml.a
	$(CC) $(LDFLAGS) -o $@ $< $(ML_TEST_LIBS)
