/*
 * The report's curves against scikit-learn's (roc_curve,
 * precision_recall_curve, calibration_curve) on fixed data with ties and
 * scores on the calibration bins' edges, to 1e-6.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../plugins/lib/curves.h"
#include "curves_expected.h"

#define N (sizeof(y) / sizeof(y[0]))
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void
same(const double *got, size_t n, const double *want, size_t m)
{
	size_t i;

	assert_int_equal(n, m);
	for (i = 0; i < n; i++)
		assert_true(fabs(got[i] - want[i]) <= 1e-6);
}

static void
roc_matches_sklearn(void **state)
{
	struct kp_curve c;

	(void)state;
	assert_int_equal(kp_roc_curve(y, score, N, &c), 0);
	same(c.x, c.n, roc_fpr, LEN(roc_fpr));
	same(c.y, c.n, roc_tpr, LEN(roc_tpr));
	same(c.t, c.nt, roc_thr, LEN(roc_thr));
	kp_curve_release(&c);
}

static void
pr_matches_sklearn(void **state)
{
	struct kp_curve c;

	(void)state;
	assert_int_equal(kp_pr_curve(y, score, N, &c), 0);
	same(c.y, c.n, pr_precision, LEN(pr_precision));
	same(c.x, c.n, pr_recall, LEN(pr_recall));
	same(c.t, c.nt, pr_thr, LEN(pr_thr));
	kp_curve_release(&c);
}

static void
calibration_matches_sklearn(void **state)
{
	struct kp_curve c;

	(void)state;
	assert_int_equal(kp_calibration_curve(y, score, N, 10, &c), 0);
	same(c.y, c.n, cal_true, LEN(cal_true));
	same(c.x, c.n, cal_pred, LEN(cal_pred));
	kp_curve_release(&c);
}

/* One kind of row only: ROC is undefined, as scikit-learn warns. */
static void
one_class_has_no_roc(void **state)
{
	static const unsigned char all[3] = { 1, 1, 1 }, none[3] = { 0, 0, 0 };
	static const float s[3] = { 0.1f, 0.5f, 0.9f };
	struct kp_curve c;

	(void)state;
	assert_int_equal(kp_roc_curve(all, s, 3, &c), -1);
	assert_int_equal(kp_roc_curve(none, s, 3, &c), -1);
	assert_int_equal(kp_pr_curve(none, s, 3, &c), -1);
	assert_int_equal(kp_roc_curve(all, s, 0, &c), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roc_matches_sklearn),
		cmocka_unit_test(pr_matches_sklearn),
		cmocka_unit_test(calibration_matches_sklearn),
		cmocka_unit_test(one_class_has_no_roc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
