# The featurize plugin.

PLUGINS += $(O)/plugins/featurize.so

$(O)/plugins/featurize.so: $(O)/plugins/featurize/featurize.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
