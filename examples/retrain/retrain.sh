#!/bin/sh
# The scheduled job: check the deployed model (the champion) on the labelled
# feedback; retrain and roll out only when its accuracy fell, and only a
# model that beats it on the same fresh rows. KILN names the kiln to run.
#
#	./retrain.sh          (in this folder; examples/ci runs it on a schedule)
set -eu
kiln=${KILN:-kiln}
if ! ls feedback/*.csv >/dev/null 2>&1; then
	echo "retrain: no new feedback"
	exit 0
fi
if "$kiln" build -q watch; then
	echo "retrain: the deployed model's accuracy holds on the feedback; nothing retrained"
	exit 0
fi
echo "retrain: the deployed model's accuracy fell; retraining on the training set and the feedback"
# Builds the trigger, the extended set, the challenger, its gate and the
# comparison; pushes only when all of them passed.
"$kiln" deploy prod
# What was rolled out is the new champion: its training set is the extended
# one, and the feedback it learned from is done.
cp kiln-out/extended/data.csv data/train.csv
mkdir -p feedback/done
mv feedback/*.csv feedback/done/
echo "retrain: rolled out; data/train.csv holds the feedback now, feedback/ is empty (commit both)"
