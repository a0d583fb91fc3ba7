/*
 * curves: the points behind ROC, precision-recall and calibration plots,
 * computed as scikit-learn computes them (roc_curve with
 * drop_intermediate, precision_recall_curve, calibration_curve with
 * uniform bins), so a report draws the same curves a notebook would.
 */
#ifndef KILN_PLUGLIB_CURVES_H
#define KILN_PLUGLIB_CURVES_H

#include <stddef.h>

struct json_t;

/* n points (x[i], y[i]) and their thresholds (nt of them, see each function). */
struct kp_curve {
	size_t n, nt;
	double *x, *y, *t;
};

/*
 * ROC of score for the rows where pos[i] is 1: x the false positive rate,
 * y the true positive rate, t (nt = n) the thresholds, the first one
 * being the highest score plus 1. Needs both kinds of rows: -1 otherwise.
 */
int kp_roc_curve(const unsigned char *pos, const float *score, size_t rows,
	struct kp_curve *c);
/*
 * Precision-recall: x the recall (decreasing, ending at 0), y the
 * precision (ending at 1), t (nt = n - 1) the increasing thresholds.
 * Needs at least one positive row: -1 otherwise.
 */
int kp_pr_curve(const unsigned char *pos, const float *score, size_t rows,
	struct kp_curve *c);
/*
 * Calibration in `bins` equal-width bins of [0, 1]: x the mean predicted
 * probability, y the fraction of positives, t (nt = n) the rows in the
 * bin; empty bins are left out.
 */
int kp_calibration_curve(const unsigned char *pos, const float *prob, size_t rows,
	size_t bins, struct kp_curve *c);
void kp_curve_release(struct kp_curve *c);

/*
 * The curve as a JSON object of arrays named xname, yname and tname,
 * at most `max` points (a longer curve keeps evenly spaced points and
 * both ends, and says "points": its full length).
 */
struct json_t *kp_curve_json(const struct kp_curve *c, const char *xname,
	const char *yname, const char *tname, size_t max);

#endif
