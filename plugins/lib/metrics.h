/*
 * metrics: how well predictions match the truth, as JSON objects for
 * metrics.json: classification, regression and fairness across groups.
 */
#ifndef KILN_PLUGLIB_METRICS_H
#define KILN_PLUGLIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

/*
 * Classification metrics of pred against y (n labels below nclasses):
 * accuracy, macro and per-class precision/recall/F1, the confusion matrix,
 * and with probs (n x nclasses, may be NULL) log loss and, for two classes,
 * ROC-AUC.
 */
struct json_t *kp_metrics_classification(const int64_t *y, const int64_t *pred,
	const float *probs, size_t n, size_t nclasses, char *const *classes);
/* RMSE, MAE and R^2. */
struct json_t *kp_metrics_regression(const float *y, const float *pred, size_t n);
/*
 * Per-group accuracy (and for two classes selection rate and true positive
 * rate, class 1 being the positive one), with the largest gap between
 * groups, the demographic parity and equal opportunity differences.
 */
struct json_t *kp_metrics_fairness(const int64_t *y, const int64_t *pred,
	const int64_t *group, size_t n, size_t nclasses, char *const *groups,
	size_t ngroups);
/* Area under the ROC curve of score for y == 1 (ties count half). */
double kp_roc_auc(const int64_t *y, const float *score, size_t n);

#endif
