# The package plugin. kiln-serve is linked into it (serve_bin.o), so the
# plugin's digest, which every action key includes, covers the server. The
# image always gets the plain build's kiln-serve, also in the sanitizer
# build: an image is not the place for AddressSanitizer's runtime.

PLUGINS += $(O)/plugins/package.so

ifneq ($(O),build)
build/kiln-serve: FORCE
	$(MAKE) SAN=0 O=build build/kiln-serve
FORCE:
.PHONY: FORCE
endif

# Stripped of debug information and the build id, which record the folder
# kiln was built in: the image is the same from any checkout.
build/kiln-serve.image: build/kiln-serve
	strip --strip-all --remove-section=.note.gnu.build-id -o $@ $<

$(O)/plugins/package/serve_bin.o: build/kiln-serve.image
	@mkdir -p $(@D)
	printf '\t.section .rodata\n\t.balign 64\n\t.globl kiln_serve_bin\n\t.hidden kiln_serve_bin\nkiln_serve_bin:\n\t.incbin "%s"\n\t.globl kiln_serve_bin_end\n\t.hidden kiln_serve_bin_end\nkiln_serve_bin_end:\n\t.section .note.GNU-stack,"",@progbits\n' $< | \
		$(CC) -c -x assembler -o $@ -

$(O)/plugins/package.so: $(O)/plugins/package/package.o $(O)/plugins/package/elf.o \
		$(O)/plugins/package/serve_bin.o $(O)/libkilnplug.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $(filter %.o,$^) $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -larchive -lcrypto

# Unit test of the OCI helpers and the ELF closure (cmocka).
UNIT_TESTS += $(O)/tests/unit/test_ml_package
$(O)/tests/unit/test_ml_package: $(O)/tests/unit/test_ml_package.o $(O)/plugins/package/elf.o $(O)/libkilnplug.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(O)/libkilnplug.a $(LDLIBS_PLUGLIB) -lcrypto -lcmocka
