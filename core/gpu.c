/*
 * gpu: the machine's NVIDIA GPUs; see gpu.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpu.h"
#include "util.h"

/* What the container toolkit binds for the compute and utility capabilities. */
static const char *const driver_libs[] = {
	"libcuda.so", "libcudadebugger.so", "libnvidia-ml.so", "libnvidia-cfg.so",
	"libnvidia-ptxjitcompiler.so", "libnvidia-nvvm.so", "libnvidia-gpucomp.so",
	"libnvidia-allocator.so", "libnvidia-opencl.so", "libnvidia-pkcs11.so",
	"libnvidia-fatbinaryloader.so", "libnvidia-compiler.so",
};

static const char *const lib_dirs[] = {
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64",
	"/usr/lib/wsl/lib",
};

static const char *const control_nodes[] = {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-caps"};

/* A path under the (test) root: "/dev" -> "$KILN_TEST_GPU_ROOT/dev". malloc'd. */
static char *
rooted(const char *path)
{
	const char *root = getenv("KILN_TEST_GPU_ROOT");

	return xasprintf("%s%s", root && *root ? root : "", path);
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Parse "0,2,3" into g; -1 if it is not such a list. */
static int
parse_list(struct kiln_gpus *g, const char *s)
{
	char *end;

	g->n = 0;
	while (*s) {
		long v;

		if (!isdigit((unsigned char)*s))
			return -1;
		v = strtol(s, &end, 10);
		if (v > 1 << 20 || g->n == KILN_GPU_MAX || (*end && *end != ','))
			return -1;
		g->idx[g->n++] = (int)v;
		s = *end ? end + 1 : end;
	}
	sort(g->idx, g->n, sizeof(*g->idx), cmp_int);
	return 0;
}

/* Every /dev/nvidiaN. */
static void
scan_dev(struct kiln_gpus *g)
{
	char *dir = rooted("/dev");
	DIR *d = opendir(dir);
	struct dirent *e;

	g->n = 0;
	g->from = "/dev";
	while (d && (e = readdir(d)) && g->n < KILN_GPU_MAX) {
		const char *p = e->d_name + 6;

		if (strncmp(e->d_name, "nvidia", 6) != 0 || !*p || strspn(p, "0123456789") != strlen(p))
			continue;
		g->idx[g->n++] = atoi(p);
	}
	if (d)
		closedir(d);
	free(dir);
	sort(g->idx, g->n, sizeof(*g->idx), cmp_int);
}

int
kiln_gpu_find(struct kiln_gpus *g)
{
	const char *s = getenv("KILN_GPUS");

	memset(g, 0, sizeof(*g));
	if (s) {
		g->from = "KILN_GPUS";
		if (strcmp(s, "none") == 0 || !*s)
			return 0;
		if (parse_list(g, s) < 0)
			return error("KILN_GPUS='%s': expected a list of GPU indices such as 0,1 or 'none'", s);
		return 0;
	}
	if (getenv("SLURM_JOB_ID") && ((s = getenv("SLURM_JOB_GPUS")) || (s = getenv("CUDA_VISIBLE_DEVICES")))) {
		g->from = getenv("SLURM_JOB_GPUS") ? "SLURM_JOB_GPUS" : "CUDA_VISIBLE_DEVICES";
		if (parse_list(g, s) < 0)
			return error("%s='%s': expected the list of GPU indices this Slurm job was given", g->from, s);
		return 0;
	}
	scan_dev(g);
	return 0;
}

/* Append s (taken) to the NULL-terminated list *v of *n. */
static void
push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

char **
kiln_gpu_nodes(const int *idx, size_t n)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t k = 0, i;
	struct stat sb;

	for (i = 0; i < n + LEN(control_nodes); i++) {
		char *name = i < n ? xasprintf("/dev/nvidia%d", idx[i]) : xasprintf("/dev/%s", control_nodes[i - n]);
		char *p = rooted(name);

		/* A GPU Slurm names by another file (a test's /dev/null) has no node to bind. */
		free(name);
		if (stat(p, &sb) == 0)
			push(&v, &k, p);
		else
			free(p);
	}
	return v;
}

/* Is lib one of the driver's (its name starts with one of driver_libs and goes on with '.')? */
static int
driver_lib(const char *name)
{
	size_t i, n;

	for (i = 0; i < LEN(driver_libs); i++) {
		n = strlen(driver_libs[i]);
		if (strncmp(name, driver_libs[i], n) == 0 && (name[n] == '\0' || name[n] == '.'))
			return 1;
	}
	return 0;
}

static int
listed(char **v, const char *path)
{
	for (; v && *v; v++)
		if (strcmp(*v, path) == 0)
			return 1;
	return 0;
}

/* `ldconfig -p` lines: "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1". */
static void
from_ldcache(char ***v, size_t *k)
{
	FILE *p = popen("/sbin/ldconfig -p 2>/dev/null", "r");
	char line[4096], *arrow, *name;

	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		name = line + strspn(line, " \t");
		arrow = strstr(line, " => ");
		if (!arrow || !driver_lib(name))
			continue;
		arrow += 4;
		arrow[strcspn(arrow, "\n")] = '\0';
		if (!listed(*v, arrow))
			push(v, k, xstrdup(arrow));
	}
	pclose(p);
}

char **
kiln_gpu_libraries(void)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t k = 0, i;

	from_ldcache(&v, &k);
	for (i = 0; i < LEN(lib_dirs) && k == 0; i++) {
		DIR *d = opendir(lib_dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d)))
			if (driver_lib(e->d_name))
				push(&v, &k, path_join(lib_dirs[i], e->d_name));
		if (d)
			closedir(d);
	}
	return v;
}

/* The UUID the driver gives the GPU whose minor number is idx, from /proc/driver/nvidia/gpus/ * /information. */
static char *
gpu_uuid(int idx)
{
	char *dir = rooted("/proc/driver/nvidia/gpus"), *uuid = NULL;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && !uuid && (e = readdir(d))) {
		char *p = xasprintf("%s/%s/information", dir, e->d_name), *text, *u, *m;
		size_t len;

		text = e->d_name[0] == '.' ? NULL : read_file(p, &len);
		free(p);
		if (!text)
			continue;
		u = strstr(text, "GPU UUID:");
		m = strstr(text, "Device Minor:");
		if (u && m && atoi(m + 13) == idx) {
			u += 9 + strspn(u + 9, " \t");
			uuid = xstrndup(u, strcspn(u, " \t\n"));
		}
		free(text);
	}
	if (d)
		closedir(d);
	free(dir);
	return uuid;
}

void
kiln_gpu_setenv(const int *idx, size_t n)
{
	struct buf cuda = BUF_INIT, nv = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		char *uuid = gpu_uuid(idx[i]);

		buf_printf(&cuda, "%s", i ? "," : "");
		if (uuid)
			buf_adds(&cuda, uuid);
		else
			buf_printf(&cuda, "%d", idx[i]);
		buf_printf(&nv, "%s%d", i ? "," : "", idx[i]);
		free(uuid);
	}
	setenv("CUDA_VISIBLE_DEVICES", n ? cuda.s : "", 1);
	setenv("NVIDIA_VISIBLE_DEVICES", n ? nv.s : "void", 1);
	buf_release(&cuda);
	buf_release(&nv);
}

/* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 …": the number after "Kernel Module". */
const char *
kiln_gpu_driver_version(void)
{
	static char v[64];
	char *path, *text, *p;
	size_t len;

	if (v[0])
		return v;
	snprintf(v, sizeof(v), "none");
	path = rooted("/proc/driver/nvidia/version");
	text = read_file(path, &len);
	free(path);
	if (text && (p = strstr(text, "Kernel Module"))) {
		p += 13 + strspn(p + 13, " \t");
		snprintf(v, sizeof(v), "%.*s", (int)strcspn(p, " \t\n"), p);
	}
	free(text);
	return v;
}

/* The toolkit's version.json: { "cuda": { "version": "12.4.1" }, … }. */
const char *
kiln_gpu_cuda_version(void)
{
	static char v[64];
	char *path;
	json_t *j, *c;

	if (v[0])
		return v;
	snprintf(v, sizeof(v), "none");
	path = rooted("/usr/local/cuda/version.json");
	j = json_load_file(path, 0, NULL);
	free(path);
	c = json_object_get(json_object_get(j, "cuda"), "version");
	if (json_is_string(c))
		snprintf(v, sizeof(v), "%s", json_string_value(c));
	json_decref(j);
	return v;
}
