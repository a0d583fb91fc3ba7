# The merge plugin.

PLUGINS += $(O)/plugins/merge.so

$(O)/plugins/merge.so: $(O)/plugins/merge/merge.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
