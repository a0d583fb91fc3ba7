# Bad CSV input to featurize: each case fails the build with a message
# that names the file, column and row, and records no output.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
features "f" { data = "d.csv", label = "y" }
K
# bad EXPECTED: the build fails with EXPECTED and leaves nothing behind.
bad() {
	fails 1 kiln build
	has "target 'f' failed: "
	has "$1"
	[ ! -e kiln-out/f ] || fail "a failed featurize left outputs"
}
good() {
	printf 'a,b,y\n'
	for i in 1 2 3 4 5 6 7 8 9 10; do printf '%d,%d.5,%s\n' "$i" "$((i * 3))" "$([ $((i % 2)) = 0 ] && echo yes || echo no)"; done
}
good > d.csv
ok kiln build
rm -rf kiln-out
# A missing column: the label.
sed -i 's/label = "y"/label = "z"/' Kilnfile
bad "d.csv: missing column 'z' (the label)"
sed -i 's/label = "z"/label = "y"/' Kilnfile
# A ragged row.
good | sed '5s/$/,extra/' > d.csv
bad "d.csv: row 4 has 4 fields, the header has 3"
# A non-numeric value in a numeric column.
good | sed '7s/^6,/six,/' > d.csv
bad "d.csv: column 'a' row 6: 'six' is not a number"
# NaN and infinity.
good | sed '3s/^2,/NaN,/' > d.csv
bad "d.csv: column 'a' row 2: value 'NaN' is NaN or infinite"
good | sed '4s/,9.5,/,inf,/' > d.csv
bad "d.csv: column 'b' row 3: value 'inf' is NaN or infinite"
# An empty value, and dropna to drop its row.
good | sed '4s/,9.5,/,,/' > d.csv
bad "d.csv: column 'b' row 3: empty value (set dropna = true to drop such rows)"
sed -i 's/label = "y"/label = "y", dropna = true/' Kilnfile
ok kiln build
/usr/bin/python3 -c 'import numpy as np; n = len(np.load("kiln-out/f/X_train.npy")) + len(np.load("kiln-out/f/X_test.npy")); assert n == 9, n'
rm -rf kiln-out
sed -i 's/, dropna = true//' Kilnfile
# An empty file, and a file with a header and no rows.
: > d.csv
bad "d.csv: empty file: expected a header row"
printf 'a,b,y\n' > d.csv
bad "d.csv: no data rows"
# No row left after filtering.
good > d.csv
sed -i 's/label = "y"/label = "y", where = { a = 99 }/' Kilnfile
bad "d.csv: no rows left after filtering (10 read)"
sed -i 's/, where = { a = 99 }//' Kilnfile
# A label with a single class.
good | sed 's/,yes$/,no/' > d.csv
bad "d.csv: label column 'y' has only one class ('no')"
# A regression asked of a label that is not numeric.
good > d.csv
sed -i 's/label = "y"/label = "y", task = "regression"/' Kilnfile
bad "d.csv: label column 'y' row 1: 'no' is not a number, and a regression needs numbers"
sed -i 's/, task = "regression"//' Kilnfile
# A quote that never closes.
good | sed '3s/^2,/"2,/' > d.csv
bad "malformed CSV"
