# join and concat stream CSV through validate's parser: quoted fields with
# line breaks survive, duplicate keys, a missing key column and a schema
# mismatch fail naming the file, column and rows; a dataset validates a
# merged target's output.
. "$(dirname "$0")/lib.sh"
mkdir data
printf 'id,x\n1,a\n2,"b, with\nnewline"\n3,"say ""hi"""\n5,e\n' > data/l.csv
printf 'id,y\n1,10\n3,30\n4,40\n' > data/r.csv
printf 'id,x\n7,g\n' > data/l2.csv
cat > Kilnfile <<'K'
join "inner" { left = "data/l.csv", right = "data/r.csv", on = "id" }
join "left" { left = "data/l.csv", right = "data/r.csv", on = "id", how = "left" }
concat "both" { parts = { "data/l.csv", "data/l2.csv", ":left" } }
concat "rows" { parts = { "data/l.csv", "data/l2.csv" } }
dataset "checked" { source = ":left", max_null_fraction = 0.5, schema = { id = { type = "int" }, y = { type = "int" } } }
K
ok kiln build inner left rows
ran 3
same kiln-out/inner/data.csv "id,x,y
1,a,10
3,\"say \"\"hi\"\"\",30"
same kiln-out/left/data.csv "id,x,y
1,a,10
2,\"b, with
newline\",
3,\"say \"\"hi\"\"\",30
5,e,"
same kiln-out/rows/data.csv "id,x
1,a
2,\"b, with
newline\"
3,\"say \"\"hi\"\"\"
5,e
7,g"
# A dataset takes a merged target's CSV as its source.
ok kiln build checked
has "1 ran"
cmp kiln-out/checked/data.csv kiln-out/left/data.csv || fail "dataset changed the merged CSV"
# A schema mismatch names the first column that differs.
fails 1 kiln build both
has "kiln-out/left/data.csv: 3 columns where data/l.csv has 2; column 3 is 'y'"
printf 'id,z\n9,q\n' > data/l2.csv
fails 1 kiln build rows
has "data/l2.csv: column 2 is 'z' where data/l.csv has 'x'"
# Duplicate keys on the right side are named with both rows.
printf 'id,y\n1,10\n3,30\n1,11\n' > data/r.csv
fails 1 kiln build inner
has "data/r.csv: the key 'id' = '1' is on rows 1 and 3; the right side of a join must have each key once"
# A missing key column names the file and its columns.
printf 'key,y\n1,10\n' > data/r.csv
fails 1 kiln build inner
has "data/r.csv: no column 'id' to join on (its columns: key, y)"
printf 'id,y\n1,10\n' > data/r.csv
printf 'k,x\n1,a\n' > data/l.csv
fails 1 kiln build inner
has "data/l.csv: no column 'id' to join on (its columns: k, x)"
# A column on both sides, a bad CSV row, bad params.
printf 'id,y\n1,a\n' > data/l.csv
fails 1 kiln build inner
has "column 'y' is on both sides of the join"
printf 'id,x\n1,a,extra\n' > data/l.csv
fails 1 kiln build inner
has "data/l.csv: row 1 has 3 fields, the header has 2"
echo 'join "bad" { left = "data/l.csv", right = "data/r.csv", on = "id", how = "outer" }' > Kilnfile
fails 2 kiln build
has "field 'how': expected \"inner\" or \"left\""
echo 'concat "bad" { parts = {} }' > Kilnfile
fails 2 kiln build
has "field 'parts': expected a non-empty list"
