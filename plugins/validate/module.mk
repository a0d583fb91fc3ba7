# The validate plugin.

PLUGINS += $(O)/plugins/validate.so

$(O)/plugins/validate.so: $(O)/plugins/validate/validate.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
