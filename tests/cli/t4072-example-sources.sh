# examples/sources: three sources (CSV, ';' with decimal commas, JSON
# lines), each prepared and validated, joined into a training set that
# trains; with the large source tracked by kiln add and restored from the
# cache when it is missing.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/sources/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln add data/applicants.csv
has "added data/applicants.csv: 1 file"
ok kiln build
ran 11
ok kiln metrics
for t in applicants history outcomes training; do
	printf '%s\n' "$out" | grep -qE "^$t +rows +6000$" || fail "$t: expected 6000 rows: $out"
done
printf '%s\n' "$out" | grep -qE '^all +matched +6000$' || fail "the joins lost rows: $out"
acc=$(printf '%s\n' "$out" | awk '$1 == "approval_eval" && $2 == "accuracy" { print $3 }')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.70) }' || fail "accuracy '$acc'"
head -1 kiln-out/all/data.csv | grep -qx 'id,approved,income,debt_ratio,loan_amount,group,credit_history_years,late_payments' ||
	fail "merged header: $(head -1 kiln-out/all/data.csv)"
# The tracked source is gone (a fresh clone): restored from the cache, nothing runs.
mv data/applicants.csv ../applicants.csv
ok kiln build
has "data/applicants.csv: restored from the local cache"
has "nothing to do"
cmp data/applicants.csv ../applicants.csv || fail "restored source differs"
ok kiln status --check
# An edit not recorded by kiln add is named, and CI fails on it.
sed -i 's/^1,38278,/1,38279,/' data/applicants.csv
fails 1 kiln status --check
has "data/applicants.csv: changed since 'kiln add'"
