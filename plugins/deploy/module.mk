# The deploy plugin (shares the OCI helpers with package).

PLUGINS += $(O)/plugins/deploy.so
$(O)/plugins/deploy/deploy.o: CPPFLAGS += -Iplugins/package

$(O)/plugins/deploy.so: $(O)/plugins/deploy/deploy.o $(O)/plugins/package/oci.o $(O)/libkilnml.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $(filter %.o,$^) $(O)/libkilnml.a $(LDLIBS_ML) -lcurl -lcrypto
