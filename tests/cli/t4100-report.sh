# kiln report: one offline page from what the build recorded — data, training,
# tests, fairness, revisions; targets never built are named and the rest is
# still shown; a hostile output cannot break out of the page's data; an
# unknown target is an error; the report runs no step.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/loans/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<'K'
features "amount_feat" {
  data = ":loans", label = "loan_amount", task = "regression", onehot = { "group" },
  split = { test = 0.2, seed = 1 },
}
model "amount_ridge" { features = ":amount_feat", algorithm = "ridge" }
test "amount_test" { model = ":amount_ridge", features = ":amount_feat" }
K

# Nothing built yet: the page renders and says what is missing.
ok kiln report
has "kiln: wrote kiln-out/report.html (8 targets not shown)"
[ -s kiln-out/report.html ] || fail "no kiln-out/report.html"
ok kiln report --json
printf '%s\n' "$out" >empty.json
ok /usr/bin/python3 - <<'P'
import json
d = json.load(open("empty.json"))
names = sorted(t["target"] for t in d["not_built"])
assert "loans_gate" in names and "loans" in names, names
assert all(t["why"] == "never built" for t in d["not_built"]), d["not_built"]
assert all(not s["items"] for s in d["sections"]), d["sections"]
P

fails 1 kiln build -k
ok kiln report
has "kiln: wrote kiln-out/report.html"
# The page carries its scripts: no <script src>, no <link>, a CSP that allows no fetch.
grep -q '<script src' kiln-out/report.html && fail "the page loads a script from elsewhere"
grep -q '<link' kiln-out/report.html && fail "the page links to something"
grep -q "default-src 'none'" kiln-out/report.html || fail "no Content-Security-Policy in the page"
grep -q 'vegaEmbed' kiln-out/report.html || fail "vega-embed is not in the page"

ok kiln report --json -o report.json
ok /usr/bin/python3 - <<'P'
import json
d = json.load(open("report.json"))
sec = {s["id"]: s for s in d["sections"]}
assert set(sec) >= {"data", "training", "tests", "fairness"}, list(sec)
def item(s, t):
    for i in sec[s]["items"]:
        if i["target"] == t:
            return i
    raise AssertionError("no %s in %s: %s" % (t, s, [i["target"] for i in sec[s]["items"]]))
def titles(i):
    return [c["title"]["text"] for c in i["charts"]]
data = item("data", "loans")
assert "income" in titles(data) and "group" in titles(data), titles(data)
inc = [c for c in data["charts"] if c["title"]["text"] == "income"][0]
assert sum(v["rows"] for v in inc["data"]["values"]) == 6000, inc["data"]["values"]
assert inc["encoding"]["x"]["title"] == "income" and inc["encoding"]["y"]["title"] == "rows"
assert "Loss per epoch" in titles(item("training", "loans_lr"))
ev = item("tests", "loans_eval")
for t in ("Confusion matrix", "ROC curve", "Precision-recall curve", "Calibration"):
    assert t in titles(ev), (t, titles(ev))
cm = [c for c in ev["charts"] if c["title"]["text"] == "Confusion matrix"][0]
assert sum(v["rows"] for v in cm["data"]["values"]) == 1200
roc = [c for c in ev["charts"] if c["title"]["text"] == "ROC curve"][0]
pts = [v for v in roc["data"]["values"]]
assert pts[0]["fpr"] == 0 and pts[0]["tpr"] == 0 and pts[-1]["fpr"] == 1 and pts[-1]["tpr"] == 1
reg = item("tests", "amount_test")
assert "Predicted against true" in titles(reg) and "Residuals" in titles(reg), titles(reg)
gate = item("tests", "loans_gate")
assert gate["status"] == "failed", gate["status"]
g = [c for c in gate["charts"] if c["title"]["text"] == "Gates"][0]
failed = sorted(v["check"] for v in g["data"]["values"] if not v["passed"])
assert failed == ["demographic parity difference", "equal opportunity difference"], failed
assert "ROC curve" in titles(gate), titles(gate)
assert any("log" in n for n in gate["notes"]), gate["notes"]
assert item("fairness", "loans_gate")["status"] == "failed"
assert d["not_built"] == [], d["not_built"]
fair = item("fairness", "loans_eval")
assert "Metrics per group" in titles(fair), titles(fair)
# Every chart has axis titles, every table has its columns.
for s in d["sections"]:
    for i in s["items"]:
        for t in i["tables"]:
            assert all(len(r) == len(t["columns"]) for r in t["rows"]), t
P

# The test plugin's curves.json is an output (in the lock, so verify covers it).
grep -q '^loans_eval out curves.json ' Kilnfile.lock || fail "curves.json is not in Kilnfile.lock"

# Named targets: those and what they need.
ok kiln report --json loans_lr
printf '%s\n' "$out" >one.json
ok /usr/bin/python3 -c '
import json; d = json.load(open("one.json"))
got = sorted(i["target"] for s in d["sections"] for i in s["items"])
assert got == ["kiln exp show", "loans", "loans_lr"], got
runs = [i for s in d["sections"] for i in s["items"] if i["target"] == "kiln exp show"][0]["tables"][0]
col = runs["columns"].index("target")
assert sorted(set(r[col] for r in runs["rows"])) == ["loans", "loans_feat", "loans_lr"], runs["rows"]'
fails 2 kiln report nosuch
has "nosuch"

# The report runs nothing: the state and the outputs are as they were.
before=$(cat .kiln/state | md5sum)
ok kiln report
[ "$(cat .kiln/state | md5sum)" = "$before" ] || fail "kiln report changed the state"

# A hostile step output: a column name that tries to close the script element.
mkdir -p evil && printf 'a,</script><script>alert(1)</script>\n1,2\n3,4\n' >evil/e.csv
cat >>Kilnfile <<'K'
dataset "evil" { source = "evil/e.csv" }
K
ok kiln build evil
ok kiln report evil
grep -c '</script><script>alert' kiln-out/report.html | grep -qx 0 || fail "the column name reached the page as markup"
grep -q 'u003c/script>u003cscript>alert' kiln-out/report.html || grep -q '\\u003c/script>\\u003cscript>alert' kiln-out/report.html ||
	fail "the column name is not in the page's data"

# Under a second for the example: its CPU time (user and system; a loaded
# machine's wall clock says more about the load than about kiln).
cpu=$( { TIMEFORMAT='%U %S'; time kiln report >/dev/null 2>&1; } 2>&1 )
awk -v u="${cpu% *}" -v s="${cpu#* }" 'BEGIN { exit !(u + s < 1) }' || fail "kiln report took $cpu s of CPU"

# A link where the report goes is not written through.
ln -sf /tmp/elsewhere-$$ kiln-out/report.html
fails 2 kiln report
[ -e /tmp/elsewhere-$$ ] && fail "the report was written through a link"
true
