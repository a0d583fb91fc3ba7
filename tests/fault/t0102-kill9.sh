# kill -9 of kiln at random moments, many times over: every following build
# gives the correct result and kiln fsck finds nothing corrupt.
. "$(dirname "$0")/../cli/lib.sh"
{
	for i in $(seq 1 40); do
		printf 'command "t%d" { inputs = { s = "src/%d" }, cmd = "cat {in.s} {in.s} > {out}/o; head -c 20000 /dev/zero > {out}/big", outputs = { "o", "big" } }\n' "$i" "$i"
		if [ "$i" -gt 1 ]; then
			printf 'command "u%d" { inputs = { a = ":t%d", b = ":u%d" }, cmd = "cat {in.a}/o {in.b}/o > {out}/o", outputs = { "o" } }\n' "$i" "$i" "$((i - 1))"
		fi
	done
	printf 'command "u1" { inputs = { a = ":t1" }, cmd = "cat {in.a}/o > {out}/o", outputs = { "o" } }\n'
} > Kilnfile
mkdir src
for round in $(seq 1 25); do
	for i in $(seq 1 40); do echo "$round.$i.$RANDOM" > src/$i; done
	kiln build -j4 >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	# Steps of a killed kiln may still be finishing; let them.
	sleep 0.05
	if [ $((round % 5)) -eq 0 ]; then
		ok kiln build -j4
		for i in $(seq 1 40); do
			expect=$(cat src/$i src/$i)
			[ "$(cat kiln-out/t$i/o)" = "$expect" ] || fail "round $round: t$i is wrong after kill -9"
		done
		expect=$(for i in $(seq 40 -1 1); do cat src/$i src/$i; done)
		[ "$(cat kiln-out/u40/o)" = "$expect" ] || fail "round $round: u40 is wrong after kill -9"
		ok kiln build
		has "nothing to do"
	fi
done
ok kiln fsck
has ", 0 bad"
