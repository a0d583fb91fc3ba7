# Only what is downstream of a change runs; touching a file runs nothing; a
# step that writes the same bytes again does not make its dependents run.
. "$(dirname "$0")/lib.sh"
mkdir data
echo "alice" > data/a.txt
echo "bob" > data/b.txt
cat > Kilnfile <<'K'
command "upper_a" { inputs = { f = "data/a.txt" }, cmd = "tr a-z A-Z < {in.f} > {out}/a", outputs = { "a" } }
command "upper_b" { inputs = { f = "data/b.txt" }, cmd = "tr a-z A-Z < {in.f} > {out}/b", outputs = { "b" } }
command "both" {
  inputs = { a = ":upper_a", b = ":upper_b" },
  cmd = "cat {in.a}/a {in.b}/b > {out}/ab; date +%N >> {out}/ran",
  outputs = { "ab", "ran" },
}
K
ok kiln build
ran 3
echo "carol" > data/a.txt
ok kiln build
ran 2
has "exec upper_a"
has "exec both"
hasnt "upper_b"
same kiln-out/both/ab "CAROL
BOB"
# Same bytes, new mtime: nothing runs.
sleep 0.01
touch data/a.txt data/b.txt
ok kiln build
has "nothing to do"
# New bytes that upper-case to the same output: upper_a runs, both does not (early cutoff).
echo "Carol" > data/a.txt
ok kiln build
ran 1
has "exec upper_a"
hasnt "exec both"
# Changing the command runs the target.
sed -i 's/tr a-z A-Z < {in.f} > {out}\/b/tr a-z A-Z < {in.f} | tr O 0 > {out}\/b/' Kilnfile
ok kiln build
has "exec upper_b"
has "exec both"
same kiln-out/upper_b/b "B0B"
