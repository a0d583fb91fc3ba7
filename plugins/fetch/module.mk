# The fetch plugin: libcurl for the download, libcrypto and xxhash for the digest.

PLUGINS += $(O)/plugins/fetch.so

$(O)/plugins/fetch.so: $(O)/plugins/fetch/fetch.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -lcurl -lcrypto -lxxhash
