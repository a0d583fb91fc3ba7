/*
 * rules: the Lua rule library (rules/NAME.lua), compiled into the binary by
 * tools/embed.sh.
 */
#ifndef KILN_RULES_H
#define KILN_RULES_H

#include <stddef.h>

struct kiln_rule_file {
	const char *name;	/* "rules/command.lua" */
	const char *text;
	size_t len;
};

/* Ends with an entry whose name is NULL. */
extern const struct kiln_rule_file kiln_rule_files[];

#endif
