/*
 * Param checks shared by the ML plugins: each one fails the target with a
 * message naming the target and the param, and says what was expected and
 * what was found. Header-only so libkilnplug.a stays free of kiln's ABI.
 */
#ifndef KILN_PLUGLIB_PARAM_H
#define KILN_PLUGLIB_PARAM_H

#include <kiln/plugin.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>

/* What v is, for messages: "a string", "a list", ... */
static inline const char *
kp_type_name(const kiln_value *v)
{
	static const char *const names[] = { "nil", "a boolean", "an integer",
		"a number", "a string", "a list", "a table" };

	return names[kiln_value_type(v)];
}

/* Every top-level param must be one of allowed (NULL-terminated). */
static inline int
kp_known(kiln_ctx *ctx, const char *const *allowed)
{
	const kiln_value *p = kiln_params(ctx);
	size_t i, j;

	for (i = 0; i < kiln_value_len(p); i++) {
		for (j = 0; allowed[j]; j++)
			if (strcmp(kiln_value_key(p, i), allowed[j]) == 0)
				break;
		if (!allowed[j])
			return kiln_fail(ctx, "unknown param '%s'", kiln_value_key(p, i));
	}
	return 0;
}

/* A number in [lo, hi] under v (named what), or def when absent. */
static inline int
kp_number_in(kiln_ctx *ctx, const kiln_value *v, const char *what, double def,
	double lo, double hi, double *out)
{
	if (!v) {
		*out = def;
		return 0;
	}
	if (!kiln_value_isnumber(v))
		return kiln_fail(ctx, "param '%s': expected a number, got %s", what, kp_type_name(v));
	*out = kiln_value_number(v, def);
	if (!(*out >= lo && *out <= hi))
		return kiln_fail(ctx, "param '%s': expected a number in [%g, %g], got %g", what, lo, hi, *out);
	return 0;
}

/* The number param key in [lo, hi], or def when absent. */
static inline int
kp_number(kiln_ctx *ctx, const char *key, double def, double lo, double hi, double *out)
{
	return kp_number_in(ctx, kiln_param(ctx, key), key, def, lo, hi, out);
}

/* An integer in [lo, hi], or def when absent. */
static inline int
kp_int(kiln_ctx *ctx, const char *key, long long def, long long lo, long long hi,
	long long *out)
{
	const kiln_value *v = kiln_param(ctx, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (kiln_value_int(v, LLONG_MIN) == LLONG_MIN)
		return kiln_fail(ctx, "param '%s': expected an integer, got %s", key, kp_type_name(v));
	*out = kiln_value_int(v, 0);
	if (*out < lo || *out > hi)
		return kiln_fail(ctx, "param '%s': expected an integer in [%lld, %lld], got %lld", key, lo, hi, *out);
	return 0;
}

/* A string, one of choices when choices is not NULL, or def when absent. */
static inline int
kp_string(kiln_ctx *ctx, const char *key, const char *def,
	const char *const *choices, const char **out)
{
	const kiln_value *v = kiln_param(ctx, key);
	size_t i;

	*out = def;
	if (!v)
		return 0;
	if (kiln_value_type(v) != KILN_STRING)
		return kiln_fail(ctx, "param '%s': expected a string, got %s", key, kp_type_name(v));
	*out = v->u.str.s;
	if (!choices)
		return 0;
	for (i = 0; choices[i]; i++)
		if (strcmp(*out, choices[i]) == 0)
			return 0;
	return kiln_fail(ctx, "param '%s': unknown value '%s'", key, *out);
}

/* A list of strings (or absent). */
static inline int
kp_strings(kiln_ctx *ctx, const char *key, const kiln_value **out)
{
	const kiln_value *v = kiln_param(ctx, key);
	size_t i;

	*out = v;
	if (!v)
		return 0;
	if (kiln_value_type(v) != KILN_LIST && !(kiln_value_type(v) == KILN_MAP && !kiln_value_len(v)))
		return kiln_fail(ctx, "param '%s': expected a list of strings, got %s", key, kp_type_name(v));
	for (i = 0; i < kiln_value_len(v); i++)
		if (kiln_value_type(kiln_value_at(v, i)) != KILN_STRING)
			return kiln_fail(ctx, "param '%s': item %zu: expected a string, got %s", key, i + 1, kp_type_name(kiln_value_at(v, i)));
	return 0;
}

/* The path of a required input. */
static inline int
kp_input(kiln_ctx *ctx, const char *name, const char **out)
{
	*out = kiln_input(ctx, name);
	if (!*out)
		return kiln_fail(ctx, "missing input '%s'", name);
	return 0;
}

#endif
