# join and concat stream: over a 100 MB generated left side their peak
# memory stays a few MB (bench/data.sh does 1 GB); a right side larger
# than max_memory fails, saying to put it on the left.
. "$(dirname "$0")/lib.sh"
mkdir data
awk 'BEGIN { print "id,a,b,c"; for (i = 0; i < 1700000; i++) printf "%d,%d,text-%d-with-some-padding-abcdefghij,%.3f\n", i % 5000, i, i, i / 7 }' > data/big.csv
awk 'BEGIN { print "id,label"; for (i = 0; i < 5000; i += 2) printf "%d,L%d\n", i, i % 3 }' > data/labels.csv
awk 'BEGIN { print "id,v"; for (i = 0; i < 300000; i++) printf "%d,value-%d\n", i, i }' > data/uniq.csv
size=$(stat -c %s data/big.csv)
[ "$size" -gt 100000000 ] || fail "the generated input is only $size bytes"
cat > Kilnfile <<'K'
join "j" { left = "data/big.csv", right = "data/labels.csv", on = "id" }
concat "c" { parts = { "data/big.csv", "data/big.csv" } }
join "wrong" { left = "data/labels.csv", right = "data/uniq.csv", on = "id", max_memory = 4194304 }
K
ok kiln build j c
ran 2
rows=$(($(wc -l < kiln-out/j/data.csv) - 1))
[ "$rows" -eq 850000 ] || fail "inner join kept $rows rows, expected 850000"
[ "$(($(wc -l < kiln-out/c/data.csv) - 1))" -eq 3400000 ] || fail "concat lost rows"
for t in j c; do
	kib=$(sed -n 's/.*peak memory: \([0-9]*\) KiB.*/\1/p' .kiln/logs/$t.log)
	[ -n "$kib" ] || fail "$t: no peak memory in its log: $(cat .kiln/logs/$t.log)"
	# A 100 MB input held whole would take over 100 MB; streaming takes a few.
	[ "$kib" -lt 40000 ] || fail "$t: peak memory $kib KiB over a $size-byte input"
done
fails 1 kiln build wrong
has "data/uniq.csv: the right side of the join needs more than max_memory (4 MiB)"
has "put the larger table on the left"
