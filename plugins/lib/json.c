/*
 * JSON helpers on jansson. Everything kiln writes is deterministic: sorted
 * keys, fixed indentation, reals printed with %.9g.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

int
kp_json_write(const char *path, const json_t *j, char *err)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
	size_t n;
	int rc;

	if (!s)
		return kp_errf(err, "%s: cannot encode JSON", path);
	n = strlen(s);
	s = kp_xrealloc(s, n + 2, 1);
	s[n] = '\n';
	rc = kp_write_file(path, s, n + 1, err);
	free(s);
	return rc;
}

json_t *
kp_json_read(const char *path, char *err)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	if (!j)
		kp_errf(err, "%s: line %d: %s", path, je.line, je.text);
	return j;
}

/*
 * A number as JSON. Rounding to float first makes the printed digits the
 * same whatever tiny difference the double had; NaN and infinities, which
 * JSON cannot hold, become null.
 */
json_t *
kp_json_real(double v)
{
	if (!isfinite(v))
		return json_null();
	return json_real((double)(float)v);
}

int
kp_json_size(const json_t *o, const char *key, size_t *out, const char *name,
	char *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return kp_errf(err, "%s: '%s' must be a non-negative integer", name, key);
	*out = (size_t)json_integer_value(v);
	return 0;
}

int
kp_json_strings(const json_t *o, const char *key, char ***out, size_t *n,
	const char *name, char *err)
{
	json_t *v = json_object_get(o, key);
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(v))
		return kp_errf(err, "%s: '%s' must be a list of strings", name, key);
	for (i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return kp_errf(err, "%s: '%s' item %zu is not a string", name, key, i + 1);
	*n = json_array_size(v);
	*out = kp_xmallocarray(*n + 1, sizeof(char *));
	for (i = 0; i < *n; i++)
		(*out)[i] = kp_xstrdup(json_string_value(json_array_get(v, i)));
	return 0;
}

void
kp_strings_free(char **s, size_t n)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}
