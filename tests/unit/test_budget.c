/* budget: the worst-case cost charged for a pattern match before it runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "budget.h"

static double
cost(const char *p, size_t n, int anchorable)
{
	return kiln_budget_pattern_cost(p, strlen(p), n, anchorable);
}

static void
pattern_costs(void **state)
{
	(void)state;
	/* No repetition: every start, one try each. */
	assert_true(cost("abc", 99, 1) == 100);
	assert_true(cost("^abc", 99, 1) == 1);
	/* gmatch does not anchor. */
	assert_true(cost("^abc", 99, 0) == 100);
	/* Each repetition may try every length. */
	assert_true(cost("a*", 99, 1) == 100.0 * 100);
	assert_true(cost("a-a-a-b", 99, 1) == 100.0 * 100 * 100 * 100);
	assert_true(cost("^(.-)%.csv$", 99, 1) == 100);
	assert_true(cost("[%w_]+", 9, 1) == 100);
	/* A ']' first in a set is a member; '%]' is escaped. */
	assert_true(cost("[]x]+", 9, 1) == 100);
	assert_true(cost("[%]x]+y", 9, 1) == 100);
	/* '?' doubles; %b and %f do not backtrack; a back-reference compares up to n. */
	assert_true(cost("^a?b?", 9, 1) == 4);
	assert_true(cost("^%b()%f[%w]", 9, 1) == 1);
	assert_true(cost("^(a)%1", 9, 1) == 10);
	/* A pattern cut short is costed, not overrun. */
	assert_true(cost("[abc", 9, 1) == 10);
	assert_true(cost("%", 9, 1) == 10);
	assert_true(cost("%b(", 9, 1) == 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pattern_costs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
