# C unit tests of the engine (cmocka): tests/unit/test_<noun>.c, linked with
# the engine's library. The plugins' library's tests add themselves in plugins/lib/.

CORE_TESTS = $(filter-out tests/unit/test_ml_%,$(wildcard tests/unit/test_*.c))
UNIT_TESTS += $(CORE_TESTS:tests/unit/%.c=$(O)/tests/unit/%)

$(O)/tests/unit/test_%: $(O)/tests/unit/test_%.o $(O)/libkilncore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE) -lcmocka
