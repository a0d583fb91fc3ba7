# Truncated or garbage state and lock files: kiln says so, rebuilds what it
# must, and never crashes.
. "$(dirname "$0")/../cli/lib.sh"
for i in 1 2 3 4 5; do
	printf 'command "t%d" { cmd = "echo %d > {out}/o", outputs = { "o" } }\n' $i $i
done > Kilnfile
ok kiln build
size=$(stat -c %s .kiln/state)
for cut in 10 17 $((size / 2)) $((size - 3)); do
	cp .kiln/state state.good
	truncate -s $cut .kiln/state
	ok kiln build
	for i in 1 2 3 4 5; do same kiln-out/t$i/o $i; done
	ok kiln build
	has "nothing to do"
done
head -c 5000 /dev/urandom > .kiln/state
ok kiln build
has "not a kiln state file"
for i in 1 2 3 4 5; do same kiln-out/t$i/o $i; done
# Flip a byte in the middle of a record: the checksum catches it.
ok kiln build
printf '\xff' | dd of=.kiln/state bs=1 seek=40 conv=notrunc 2>/dev/null
ok kiln build
has "damaged after"
ok kiln build
has "nothing to do"
head -c 3000 /dev/urandom > Kilnfile.lock
fails 1 kiln status --check
ok kiln build
ok kiln status --check
: > .kiln/state
ok kiln build
ok kiln status --check
