/*
 * elf: the shared libraries a program needs, found from the program itself.
 *
 * What ld.so would load: the program's PT_INTERP and its DT_NEEDED entries,
 * each looked up in the program's DT_RUNPATH/DT_RPATH, then in the system
 * folders, and their own DT_NEEDED in turn. Nothing is listed by hand.
 */
#ifndef KILN_ELF_H
#define KILN_ELF_H

#include <stddef.h>

/* One shared library of the closure. */
struct elf_lib {
	char *soname;		/* as DT_NEEDED names it */
	char *path;		/* where it was found (symlinks not resolved) */
	unsigned char *data;	/* its bytes (malloc'd) */
	size_t len;		/* of data */
};

/* A program's loader and every library it loads. */
struct elf_closure {
	char *interp;		/* PT_INTERP of the program, e.g. /lib64/ld-linux-x86-64.so.2 */
	unsigned char *interp_data;	/* the loader's bytes (malloc'd) */
	size_t interp_len;	/* of interp_data */
	const char *arch;	/* OCI architecture: "amd64", "arm64" */
	struct elf_lib *libs;	/* sorted by soname */
	size_t nlibs;		/* of libs */
};

/* Find every library the program in exe[0..len) loads. -1 with err. */
int elf_closure(struct elf_closure *c, const unsigned char *exe, size_t len, char *err);
/* Free what c holds. */
void elf_closure_release(struct elf_closure *c);

#endif
