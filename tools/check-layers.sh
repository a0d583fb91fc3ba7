#!/bin/sh
# check-layers.sh BUILD_DIR — fail if two modules of core/ depend on each other at
# link level, directly or through others (a module uses a symbol another defines).
# make test runs it, so a circle cannot come back unnoticed.
set -eu
dir=${1:-build}/core
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "$dir"/*.o; do
	m=$(basename "$o" .o)
	[ -f "core/$m.c" ] || continue
	nm "$o" | awk '$1 == "U" { print $2 }' | sort -u >"$tmp/$m.uses"
	nm --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u >"$tmp/$m.defs"
done
# edges: A B when A uses what B defines (main is the root, never a dependency)
for u in "$tmp"/*.uses; do
	a=$(basename "$u" .uses)
	for d in "$tmp"/*.defs; do
		b=$(basename "$d" .defs)
		[ "$a" = "$b" ] && continue
		[ "$b" = main ] && continue
		if comm -12 "$u" "$d" | grep -q .; then echo "$a $b"; fi
	done
done >"$tmp/edges"
# tsort reports a cycle on stderr; name the modules in it.
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/cycle"; then
	echo "check-layers: core/ has a dependency circle at link level:" >&2
	grep -v 'input contains a loop' "$tmp/cycle" | sed 's/^tsort: /  /' >&2
	exit 1
fi
echo "check-layers: $(wc -l <"$tmp/edges") links between $(ls "$tmp"/*.defs | wc -l) modules of core/, no circle"
