# monitor: a model scored on fresh labelled data that grows, one batch per
# CSV file in name order, each row through the model's own transform. It
# records each batch's accuracy in its metrics (kiln metrics and kiln exp
# show list them), builds again when a file is added, and fails when the
# latest batch falls below min.accuracy — and passes above it.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
mkdir feedback
# batch FILE SHIFT: 60 labelled rows of iris.csv (every other one), petal sizes scaled by SHIFT.
batch() {
	/usr/bin/python3 - "$1" "$2" <<'P'
import csv, sys
rows = list(csv.DictReader(open("data/iris.csv")))[::2][:60]
w = csv.writer(open(sys.argv[1], "w"))
w.writerow(["species", "petal_width", "sepal_length", "sepal_width", "petal_length", "when"])
for r in rows:
    s = float(sys.argv[2])
    w.writerow([r["species"], float(r["petal_width"]) * s, r["sepal_length"], r["sepal_width"],
                float(r["petal_length"]) * s, "2026-01"])
P
}
batch feedback/2026-01.csv 1
cat >>Kilnfile <<'K'
monitor "watch" { model = ":iris_softmax", data = "feedback/*.csv", min = { accuracy = 0.85 } }
K
ok kiln build watch
ok /usr/bin/python3 - <<'P'
import json
m = json.load(open("kiln-out/watch/metrics.json"))
assert m["format"] == "kiln-monitor/1" and m["passed"] is True, m
assert [b["file"] for b in m["batches"]] == ["feedback/2026-01.csv"] and m["batches"][0]["rows"] == 60, m
assert m["accuracy"] > 0.9 and m["accuracy"] == m["batches"][0]["accuracy"], m
P
ok kiln metrics watch
has "batch_001_accuracy"

# A second batch that holds: built again (a new file), still passing.
batch feedback/2026-02.csv 1.02
ok kiln build watch
has "1 ran"
[ "$(/usr/bin/python3 -c 'import json; print(len(json.load(open("kiln-out/watch/metrics.json"))["batches"]))')" = 2 ] ||
	fail "expected 2 batches"
# Nothing new: up to date.
ok kiln build watch
has "up to date"

# A batch that drifted: petals a third larger; the latest batch falls below 0.85 and the build fails.
batch feedback/2026-03.csv 1.35
fails 1 kiln build watch
matches "target 'watch' failed: accuracy 0\.[0-9]+ on the latest batch \(feedback/2026-03\.csv, 60 rows\) is below the minimum 0\.85"
ok kiln exp show
has "watch"
# A limit it clears passes, with the history of every batch in its metrics.
sed -i 's/min = { accuracy = 0.85 }/min = { accuracy = 0.3 }/' Kilnfile
ok kiln build watch
ok kiln metrics watch --json
ok /usr/bin/python3 -c '
import json, sys
m = json.loads(sys.argv[1])["watch"]
assert m["batches"] == 3 and m["rows"] == 180, m
assert m["batch_003_accuracy"] < m["batch_001_accuracy"] and m["accuracy"] == m["batch_003_accuracy"], m' "$out"
# Champion against challenger: a model does not beat itself; the trigger (below) is the check turned round.
cat >>Kilnfile <<'K'
monitor "self" { model = ":iris_softmax", data = "feedback", beat = ":iris_softmax" }
monitor "fell" { model = ":iris_softmax", data = "feedback/*.csv", below = { accuracy = 0.85 } }
K
fails 1 kiln build self
has "the model does not beat the champion (input 'beat') on the same 180 rows: accuracy"
ok kiln build fell
has "1 ran"
sed -i 's/below = { accuracy = 0.85 }/below = { accuracy = 0.3 }/' Kilnfile
fails 1 kiln build fell
has "is not below 0.3: it holds, nothing to retrain"
# Bad batches are named.
printf 'species,petal_width\nsetosa,0.2\n' >feedback/2026-04.csv
fails 1 kiln build watch
has "feedback/2026-04.csv: missing column 'sepal_length', which the model takes"
batch feedback/2026-04.csv 1
sed -i '2s/^[a-z]*,/daisy,/' feedback/2026-04.csv
fails 1 kiln build watch
has "feedback/2026-04.csv: label column 'species' row 1: class 'daisy' is not one of the model's 3"
echo 'monitor "bad" { model = ":iris_softmax", data = "feedback", min = { f1 = 1 } }' >>Kilnfile
fails 2 kiln build watch
has "monitor 'bad': unknown field 'min.f1'"
