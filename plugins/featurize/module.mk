# The featurize plugin.

PLUGINS += $(O)/plugins/featurize.so

$(O)/plugins/featurize.so: $(O)/plugins/featurize/featurize.o $(O)/libkilnml.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnml.a $(LDLIBS_ML)
