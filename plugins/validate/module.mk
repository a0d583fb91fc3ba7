# The validate plugin.

PLUGINS += $(O)/plugins/validate.so

$(O)/plugins/validate.so: $(O)/plugins/validate/validate.o $(O)/libkilnml.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnml.a $(LDLIBS_ML)
