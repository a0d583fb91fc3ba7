# kiln add killed with SIGKILL at any moment leaves either no pointer or a
# pointer whose every blob is in the cache: the source can be restored
# from the cache alone.
. "$(dirname "$0")/lib.sh"
mkdir -p data/many
head -c 40000000 /dev/urandom > data/big.bin
for i in $(seq 1 300); do echo "file $i" > data/many/$i.txt; done
cat > Kilnfile <<'K'
command "a" { inputs = { b = "data/big.bin", m = "data/many" }, cmd = "cat {in.b} {in.m}/*.txt | wc -c > {out}/n", outputs = { "n" } }
K
cp -r data ../orig
seen_pointer=0 seen_none=0
for delay in 0.01 0.05 0.1 0.2 0.3 0.5 0.8 1.2 2 3 5; do
	# Enough: both outcomes seen, each restore checked.
	[ $seen_pointer = 1 ] && [ $seen_none = 1 ] && break
	rm -rf "$KILN_CACHE_DIR" data/*.kiln data/.gitignore .kiln
	"$KILN_BIN" add data/big.bin data/many >/dev/null 2>&1 &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	for p in big.bin many; do
		if [ -e data/$p.kiln ]; then
			seen_pointer=1
			mv data/$p ../gone
			ok kiln build a
			has "data/$p: restored from the local cache"
			diff -r data/$p ../orig/$p >/dev/null || fail "data/$p restored from the cache differs (delay $delay)"
			rm -rf ../gone
		else
			seen_none=1
		fi
	done
done
# Both outcomes must have been seen for the test to mean something.
[ $seen_pointer = 1 ] || fail "no kiln add got as far as writing a pointer"
[ $seen_none = 1 ] || fail "every kiln add finished before it was killed; the test needs a bigger file"
# Leftover temporary files in the cache are not blobs.
[ -z "$(find "$KILN_CACHE_DIR/cas" -name '*.tmp*')" ] || fail "temporary files among the blobs"
