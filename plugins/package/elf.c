/*
 * elf: a program's shared-library closure, as ld.so would resolve it.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"
#include "../lib/util.h"

/* What one ELF file says about loading. */
struct info {
	char *interp;
	char **needed;
	size_t nneeded;
	char **runpath;		/* folders from DT_RUNPATH or DT_RPATH */
	size_t nrunpath;
	int machine;
};

static void
info_release(struct info *e)
{
	size_t i;

	for (i = 0; i < e->nneeded; i++)
		free(e->needed[i]);
	for (i = 0; i < e->nrunpath; i++)
		free(e->runpath[i]);
	free(e->needed);
	free(e->runpath);
	free(e->interp);
	memset(e, 0, sizeof(*e));
}

/* File offset of virtual address va, from the PT_LOAD segments; 0 if none. */
static size_t
va_to_off(const Elf64_Phdr *ph, size_t nph, uint64_t va)
{
	size_t i;

	for (i = 0; i < nph; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
		    va < ph[i].p_vaddr + ph[i].p_filesz)
			return (size_t)(va - ph[i].p_vaddr + ph[i].p_offset);
	return 0;
}

/* A NUL-terminated string at off inside buf, or NULL when it runs off the end. */
static const char *
str_at(const unsigned char *buf, size_t len, size_t off)
{
	if (off >= len || !memchr(buf + off, '\0', len - off))
		return NULL;
	return (const char *)buf + off;
}

static void
add_runpath(struct info *e, const char *s)
{
	char *copy = kp_xstrdup(s), *tok, *save = NULL;

	for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		e->runpath = kp_xrealloc(e->runpath, e->nrunpath + 1, sizeof(char *));
		e->runpath[e->nrunpath++] = kp_xstrdup(tok);
	}
	free(copy);
}

/* Parse a 64-bit little-endian ELF file's program headers and dynamic section. */
static int
parse(const unsigned char *buf, size_t len, const char *name, struct info *e, char *err)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	size_t i, ndyn = 0, stroff = 0, nph;
	uint64_t strtab = 0;

	memset(e, 0, sizeof(*e));
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return kp_errf(err, "%s: not an ELF file", name);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return kp_errf(err, "%s: not a 64-bit little-endian ELF file", name);
	nph = eh->e_phnum;
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
	    nph > (len - eh->e_phoff) / sizeof(Elf64_Phdr))
		return kp_errf(err, "%s: bad program headers", name);
	ph = (const Elf64_Phdr *)(buf + eh->e_phoff);
	e->machine = eh->e_machine;
	for (i = 0; i < nph; i++) {
		if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset)
			return kp_errf(err, "%s: segment %zu out of the file", name, i);
		if (ph[i].p_type == PT_INTERP) {
			const char *s = str_at(buf, ph[i].p_offset + ph[i].p_filesz, ph[i].p_offset);

			if (!s)
				return kp_errf(err, "%s: bad PT_INTERP", name);
			e->interp = kp_xstrdup(s);
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(buf + ph[i].p_offset);
			ndyn = ph[i].p_filesz / sizeof(Elf64_Dyn);
		}
	}
	for (i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++)
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_un.d_ptr;
	if (ndyn && !(stroff = va_to_off(ph, nph, strtab)))
		return kp_errf(err, "%s: no dynamic string table", name);
	for (i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		const char *s;

		if (dyn[i].d_tag != DT_NEEDED && dyn[i].d_tag != DT_RUNPATH && dyn[i].d_tag != DT_RPATH)
			continue;
		if (!(s = str_at(buf, len, stroff + dyn[i].d_un.d_val))) {
			info_release(e);
			return kp_errf(err, "%s: dynamic entry %zu points outside the file", name, i);
		}
		if (dyn[i].d_tag == DT_NEEDED) {
			e->needed = kp_xrealloc(e->needed, e->nneeded + 1, sizeof(char *));
			e->needed[e->nneeded++] = kp_xstrdup(s);
		} else {
			add_runpath(e, s);
		}
	}
	return 0;
}

static const char *
arch_name(int machine)
{
	switch (machine) {
	case EM_X86_64: return "amd64";
	case EM_AARCH64: return "arm64";
	case EM_PPC64: return "ppc64le";
	case EM_S390: return "s390x";
	case EM_RISCV: return "riscv64";
	default: return NULL;
	}
}

static const char *
multiarch(int machine)
{
	switch (machine) {
	case EM_X86_64: return "x86_64-linux-gnu";
	case EM_AARCH64: return "aarch64-linux-gnu";
	case EM_PPC64: return "powerpc64le-linux-gnu";
	case EM_S390: return "s390x-linux-gnu";
	case EM_RISCV: return "riscv64-linux-gnu";
	default: return "";
	}
}

static int
have(const struct elf_closure *c, const char *soname)
{
	size_t i;

	for (i = 0; i < c->nlibs; i++)
		if (strcmp(c->libs[i].soname, soname) == 0)
			return 1;
	return 0;
}

/* Look soname up as ld.so would: the requester's run path, then the system folders. */
static int
find(struct elf_closure *c, const char *soname, const struct info *from, int machine,
	struct info *out, char *err)
{
	char dirs[6][64], path[4200], e2[KP_ERRLEN];
	const char *ma = multiarch(machine);
	size_t i, nd = from->nrunpath + 6;

	snprintf(dirs[0], sizeof(dirs[0]), "/lib/%s", ma);
	snprintf(dirs[1], sizeof(dirs[1]), "/usr/lib/%s", ma);
	snprintf(dirs[2], sizeof(dirs[2]), "/lib64");
	snprintf(dirs[3], sizeof(dirs[3]), "/usr/lib64");
	snprintf(dirs[4], sizeof(dirs[4]), "/lib");
	snprintf(dirs[5], sizeof(dirs[5]), "/usr/lib");
	for (i = 0; i < nd; i++) {
		const char *d = i < from->nrunpath ? from->runpath[i] : dirs[i - from->nrunpath];
		struct elf_lib lib;

		if (d[0] != '/')
			continue;	/* $ORIGIN and relative paths: not for an image */
		snprintf(path, sizeof(path), "%s/%s", d, soname);
		if (kp_read_file(path, (char **)&lib.data, &lib.len, e2) < 0)
			continue;
		/* A library of another class or machine (lib32, say) is passed over, as ld.so does. */
		if (parse(lib.data, lib.len, path, out, e2) < 0 || out->machine != machine) {
			info_release(out);
			free(lib.data);
			continue;
		}
		lib.soname = kp_xstrdup(soname);
		lib.path = kp_xstrdup(path);
		c->libs = kp_xrealloc(c->libs, c->nlibs + 1, sizeof(*c->libs));
		c->libs[c->nlibs++] = lib;
		return 0;
	}
	return kp_errf(err, "library %s (needed by kiln-serve) is not in the run path or the "
		"system folders", soname);
}

static int
cmp_lib(const void *a, const void *b)
{
	return strcmp(((const struct elf_lib *)a)->soname, ((const struct elf_lib *)b)->soname);
}

/* Add what `e` needs, depth first; the interpreter is not a library to copy. */
static int
walk(struct elf_closure *c, const struct info *e, int machine, char *err)
{
	const char *base = c->interp ? strrchr(c->interp, '/') : NULL;
	size_t i;

	for (i = 0; i < e->nneeded; i++) {
		struct info sub;

		if (have(c, e->needed[i]) || (base && strcmp(base + 1, e->needed[i]) == 0))
			continue;
		if (find(c, e->needed[i], e, machine, &sub, err) < 0)
			return -1;
		if (walk(c, &sub, machine, err) < 0) {
			info_release(&sub);
			return -1;
		}
		info_release(&sub);
	}
	return 0;
}

int
elf_closure(struct elf_closure *c, const unsigned char *exe, size_t len, char *err)
{
	struct info e;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (parse(exe, len, "kiln-serve", &e, err) < 0)
		return -1;
	if (!(c->arch = arch_name(e.machine))) {
		kp_errf(err, "kiln-serve: unknown machine %d", e.machine);
		goto out;
	}
	if (!e.interp) {
		kp_errf(err, "kiln-serve has no PT_INTERP: a static program needs no libraries, "
			"but this one was expected to be dynamic");
		goto out;
	}
	c->interp = kp_xstrdup(e.interp);
	if (kp_read_file(c->interp, (char **)&c->interp_data, &c->interp_len, err) < 0)
		goto out;
	if (walk(c, &e, e.machine, err) < 0)
		goto out;
	qsort(c->libs, c->nlibs, sizeof(*c->libs), cmp_lib);
	rc = 0;
out:
	info_release(&e);
	if (rc < 0)
		elf_closure_release(c);
	return rc;
}

void
elf_closure_release(struct elf_closure *c)
{
	size_t i;

	for (i = 0; i < c->nlibs; i++) {
		free(c->libs[i].soname);
		free(c->libs[i].path);
		free(c->libs[i].data);
	}
	free(c->libs);
	free(c->interp);
	free(c->interp_data);
	memset(c, 0, sizeof(*c));
}
