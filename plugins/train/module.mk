# The train plugin.

PLUGINS += $(O)/plugins/train.so

$(O)/plugins/train.so: $(O)/plugins/train/train.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
