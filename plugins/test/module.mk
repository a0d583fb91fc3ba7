# The test plugin.

PLUGINS += $(O)/plugins/test.so

$(O)/plugins/test.so: $(O)/plugins/test/test.o $(O)/libkilnml.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnml.a $(LDLIBS_ML)
