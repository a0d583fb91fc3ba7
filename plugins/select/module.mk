# The select plugin.

PLUGINS += $(O)/plugins/select.so

$(O)/plugins/select.so: $(O)/plugins/select/select.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
