# The deploy plugin (its OCI helpers are the plugins' library's, shared with package).

PLUGINS += $(O)/plugins/deploy.so

$(O)/plugins/deploy.so: $(O)/plugins/deploy/deploy.o $(O)/plugins/deploy/http.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $(filter %.o,$^) $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -lcurl -lcrypto
