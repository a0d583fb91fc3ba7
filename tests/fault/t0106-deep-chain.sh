# A chain 100,000 targets deep whose root fails: reported, no crash (nothing
# walks the graph recursively), and -n, status and graph cope with it.
. "$(dirname "$0")/../cli/lib.sh"
{
	echo 'command "t0" { cmd = "exit 1", outputs = { "o" } }'
	for ((i = 1; i <= 100000; i++)); do
		echo "command \"t$i\" { inputs = { u = \":t$((i - 1))\" }, cmd = \"cat {in.u}/o > {out}/o\", outputs = { \"o\" } }"
	done
} > Kilnfile
fails 1 kiln build -q
has "target 't0' failed: the command exited with status 1"
ok kiln build -n
has "would run t100000: after t99999 runs"
has "100001 would run"
ok kiln status t100000
has "t100000                  stale: after t99999 is rebuilt"
ok kiln graph t100000
