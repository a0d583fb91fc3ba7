# The dataset rule (validate plugin): schema types, ranges, enums, nulls,
# duplicates, row counts, class balance and drift; each violation names
# column, row and rule; report.json and data.csv on success.
. "$(dirname "$0")/lib.sh"
cat > d.csv <<'C'
id,age,kind,score
1,34,a,0.5
2,41,b,0.7
3,29,a,0.1
4,55,b,0.9
C
cat > Kilnfile <<'K'
dataset "d" {
  source = "d.csv",
  schema = {
    id = { type = "int" },
    age = { type = "int", min = 18, max = 99 },
    kind = { enum = { "a", "b" } },
    score = { type = "float", min = 0, max = 1 },
  },
  rows = { min = 3 },
  balance = { column = "kind", min_fraction = 0.3 },
}
K
ok kiln build
cmp d.csv kiln-out/d/data.csv || fail "data.csv is not the validated file"
/usr/bin/python3 -c 'import json; r = json.load(open("kiln-out/d/report.json")); assert r["rows"] == 4 and r["columns"]["age"]["min"] == 29 and r["classes"] == {"a": 2, "b": 2}, r'
# dfail EXPECTED…: the build fails and the message has each EXPECTED.
dfail() {
	fails 1 kiln build
	local e
	for e in "$@"; do has "$e"; done
	[ ! -e kiln-out/d ] || fail "a failed validation left outputs"
}
rm -rf kiln-out
sed -i 's/^3,29,a,0.1$/3,17,c,1.5/' d.csv
dfail "d.csv: 5 violations" "column 'age' row 3: value 17 is below min 18 (min)" \
	"column 'kind' row 3: 'c' is not one of the allowed values (enum)" \
	"column 'score' row 3: value 1.5 is above max 1 (max)"
sed -i 's/^3,17,c,1.5$/3,x3,a,NaN/' d.csv
dfail "column 'age' row 3: 'x3' is not a number (type)" "column 'score' row 3: value 'NaN' is NaN or infinite (finite)"
sed -i 's/^3,x3,a,NaN$/3,29.5,a,/' d.csv
dfail "column 'age' row 3: '29.5' is not an int (type)" \
	"column 'score': 1 null in 4 rows (first at row 3), above max_null_fraction 0 (max_null_fraction)"
sed -i 's/^3,29.5,a,$/2,41,b,0.7/' d.csv
sed -i 's/balance = {/duplicates = "error", balance = {/' Kilnfile
dfail "row 3 duplicates row 2 (duplicates)"
sed -i "4s/^2,41,b,0.7$/3,29,b,0.1/" d.csv
dfail "column 'kind': class 'a' has 1 of 4 rows (25.0%), below min_fraction" "balance.min_fraction"
# A column of the schema that the file lacks.
sed -i 's/^3,29,b,0.1$/3,29,a,0.1/' d.csv
sed -i 's/kind = { enum/kinds = { enum/' Kilnfile
dfail "column 'kinds': missing column (column)"
# Rows and drift against a reference.
printf 'id,age,kind,score\n1,34,a,0.5\n' > small.csv
cat > Kilnfile <<'K'
dataset "d" { source = "small.csv", rows = { min = 2 } }
K
dfail "1 rows, fewer than the minimum 2 (rows.min)"
/usr/bin/python3 - <<'P'
import random
random.seed(1)
with open("ref.csv", "w") as f, open("same.csv", "w") as g, open("moved.csv", "w") as h:
    for out in (f, g, h):
        out.write("x,z\n")
    for i in range(2000):
        f.write("%.4f,%d\n" % (random.gauss(0, 1), i % 3))
        g.write("%.4f,%d\n" % (random.gauss(0, 1), i % 3))
        h.write("%.4f,%d\n" % (random.gauss(0.8, 1), i % 3))
P
for method in psi ks; do
	cat > Kilnfile <<K
dataset "d" { source = "same.csv", drift = { reference = "ref.csv", method = "$method", columns = { "x" } } }
K
	ok kiln build
	rm -rf kiln-out
	sed -i 's/same.csv/moved.csv/' Kilnfile
	dfail "column 'x': $method " "against ref.csv, above max" "(drift)"
done
