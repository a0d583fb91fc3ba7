#!/bin/sh
# seed.sh KIND DIR: a seed corpus for fuzz_core_KIND in DIR. The example
# Kilnfiles, and the state, graph cache, lock and action entries of one
# real build of a small Kilnfile by $KILN (default build/kiln).
set -e
kind=$1 out=$2
kiln=${KILN:-$PWD/build/kiln}
top=$PWD
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ "$kind" = kilnfile ]; then
	for f in examples/*/Kilnfile; do
		d=${f%/Kilnfile}
		cp "$f" "$out/${d##*/}.lua"
	done
	exit 0
fi
[ -x "$kiln" ] || { echo "seed.sh: no kiln at $kiln (run make)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir data
echo "alice bob" >data/names.txt
cat >Kilnfile <<'K'
command "shout" {
  inputs  = { names = "data/names.txt" },
  cmd     = "tr a-z A-Z < {in.names} > {out}/shout.txt; echo 'metric n 2' > /dev/null",
  outputs = { "shout.txt" },
}
command "both" {
  inputs  = { prev = ":shout" },
  cmd     = "mkdir {out}/d && cp {in.prev}/shout.txt {out}/d/a && echo x > {out}/b",
  outputs = { "d", "b" },
}
K
KILN_CACHE_DIR=$tmp/cache "$kiln" build >build.log 2>&1 || { cat build.log >&2; exit 1; }
case $kind in
state)
	# Raw (first byte even): the file as it is.
	{ printf '\0'; cat .kiln/state; } >"$out/raw"
	;;
graphcache)
	# The body: after magic, version and fingerprint (28 bytes), before the
	# checksum (8), with its list of sources emptied: their digests would
	# not match the fuzzer's folder, and the decoder stops at the first.
	/usr/bin/python3 - .kiln/graph "$out/body" <<'P'
import struct, sys
b = open(sys.argv[1], "rb").read()[28:-8]
n, off = struct.unpack_from("<I", b)[0], 4
for _ in range(n):
    off += 4 + struct.unpack_from("<I", b, off)[0] + 1 + 16
open(sys.argv[2], "wb").write(struct.pack("<I", 0) + b[off:])
P
	;;
lock)
	cp Kilnfile.lock "$out/lock"
	;;
action)
	i=0
	for f in $(find cache -path '*/ac/*' -type f); do
		i=$((i + 1))
		cp "$f" "$out/ac$i"
		chmod 644 "$out/ac$i"
	done
	;;
esac
