# The monitor plugin: a model scored on fresh labelled CSV batches.

PLUGINS += $(O)/plugins/monitor.so

$(O)/plugins/monitor.so: $(O)/plugins/monitor/monitor.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB)
