# The test plugin.

PLUGINS += $(O)/plugins/test.so

$(O)/plugins/test.so: $(O)/plugins/test/test.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
