# The train plugin.

PLUGINS += $(O)/plugins/train.so

$(O)/plugins/train.so: $(O)/plugins/train/train.o $(O)/libkilnml.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnml.a $(LDLIBS_ML)
