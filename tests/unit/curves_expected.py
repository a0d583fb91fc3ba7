#!/usr/bin/python3
# Writes tests/unit/curves_expected.h: fixed scores (with ties, and values on
# the calibration bins' edges) and scikit-learn's curves of them, which
# test_ml_curves.c checks kiln's curves against.
#   /usr/bin/python3 tests/unit/curves_expected.py > tests/unit/curves_expected.h
import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

rng = np.random.RandomState(7)
n = 60
y = rng.randint(0, 2, n)
s = np.round(np.clip(0.35 * y + rng.rand(n) * 0.65, 0, 1), 2).astype(np.float32)


def arr(name, a):
    print("static const double %s[] = { %s };" % (name, ", ".join("%.17g" % v for v in a)))


print("/* Written by curves_expected.py with scikit-learn %s; do not edit. */" % sklearn.__version__)
print("static const unsigned char y[] = { %s };" % ", ".join(str(v) for v in y))
print("static const float score[] = { %s };" % ", ".join("%.9ef" % v for v in s))
f, t, th = roc_curve(y, s)
arr("roc_fpr", f)
arr("roc_tpr", t)
arr("roc_thr", th)
p, r, th = precision_recall_curve(y, s)
arr("pr_precision", p)
arr("pr_recall", r)
arr("pr_thr", th)
pt, pp = calibration_curve(y, s, n_bins=10)
arr("cal_true", pt)
arr("cal_pred", pp)
