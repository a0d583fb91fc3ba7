PLUGINS += $(O)/plugins/exec.so

$(O)/plugins/exec.so: $(O)/plugins/exec/exec.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $^ -ljansson
