# kiln graph prints dot; --help and help COMMAND are there for every command.
. "$(dirname "$0")/lib.sh"
mkdir data
echo x > data/x
cat > Kilnfile <<'K'
command "a" { inputs = { x = "data/x" }, cmd = "cat {in.x} > {out}/a", outputs = { "a" } }
command "b" { inputs = { a = ":a" }, cmd = "cat {in.a}/a > {out}/b", outputs = { "b" } }
command "c" { cmd = "true > {out}/c", outputs = { "c" } }
K
ok kiln graph
has "digraph kiln {"
has '"a" -> "b" [label="a"];'
has '"data/x" -> "a" [label="x"];'
has '"c" [label="c\n(exec)"];'
ok kiln graph b
hasnt '"c"'
ok kiln --help
has "usage: kiln [-C DIR] COMMAND"
for c in build status why graph metrics plugins clean gc fsck help; do
	ok kiln help $c
	has "usage: kiln $c"
	ok kiln $c --help
	has "usage: kiln $c"
done
fails 2 kiln frobnicate
has "no command 'frobnicate'"
fails 2 kiln build --bogus
has "usage: kiln build"
fails 2 kiln build -j 0
ok kiln --version
matches "^kiln [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\)"
ok kiln -C "$PWD" build c
cd ..
ok kiln -C ws status
