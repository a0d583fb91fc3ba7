#!/usr/bin/env bash
# bench/hash.sh [SIZE_MiB] — how fast kiln hashes a large input the first
# time, beside xxhsum (the xxHash tool, same XXH3-128) and sha256sum on the
# same file from the page cache; and that asking again reads none of its bytes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
mib=${1:-2048}
work=$(mktemp -d /tmp/kiln-bench-hash.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KILN_CACHE_DIR=$work/cache
cd "$work"
head -c $((mib * 1024 * 1024)) /dev/urandom > big.bin
cat big.bin > /dev/null	# into the page cache
bytes=$(stat -c %s big.bin)
cat > Kilnfile <<'K'
command "h" { inputs = { big = "big.bin" }, cmd = "echo done > {out}/o", outputs = { "o" } }
K
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'; }
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.2f", b / t / 1e9 }'; }

# kiln: the first build hashes big.bin; a build of the same Kilnfile over a
# tiny file measures everything else, and is subtracted.
mkdir small && echo x > small/big.bin && cp Kilnfile small/
base=$(cd small && secs "$KILN" build -q --sandbox=off)
first=$(secs "$KILN" build -q --sandbox=off)
kt=$(awk -v a="$first" -v b="$base" 'BEGIN { printf "%.3f", a - b }')
echo "file: $mib MiB from the page cache"
printf '%-28s %8s s %8s GB/s\n' "kiln (first build)" "$kt" "$(rate "$kt")"
if command -v xxhsum >/dev/null; then
	t=$(secs xxhsum -H2 big.bin)
	printf '%-28s %8s s %8s GB/s\n' "xxhsum -H2 (XXH3-128)" "$t" "$(rate "$t")"
fi
t=$(secs sha256sum big.bin)
printf '%-28s %8s s %8s GB/s\n' "sha256sum" "$t" "$(rate "$t")"
again=$(secs "$KILN" build -q --sandbox=off)
printf '%-28s %8s s\n' "kiln (second build)" "$again"
if command -v strace >/dev/null; then
	strace -f -e trace=openat -o trace.txt "$KILN" build -q --sandbox=off >/dev/null 2>&1
	n=$(grep -c 'big.bin' trace.txt || true)
	echo "kiln (second build) opened big.bin $n times (0: none of its bytes were read)"
fi
echo "(wall-clock seconds from date +%s.%N around each command; resolution about 1 ms)"
