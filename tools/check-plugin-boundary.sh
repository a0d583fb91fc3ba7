#!/bin/sh
# check-plugin-boundary.sh: fail if a file under plugins/ or serve/ includes a
# header of the engine (core/). The plugin ABI in include/kiln/plugin.h is
# all a plugin may see of kiln; the build gives plugins -Iinclude and no
# -Icore, and this catches what the compiler cannot: a relative path into
# core/, or a core header's name that only -Icore would find.
#
#   tools/check-plugin-boundary.sh     from the top of the tree; silent when clean
set -u
cd "$(dirname "$0")/.." || exit 2
core=$(pwd -P)/core
bad=0

for f in $(find plugins serve -name '*.[ch]' | sort); do
	dir=$(dirname "$f")
	grep -n '^[[:space:]]*#[[:space:]]*include' "$f" | while IFS= read -r line; do
		n=${line%%:*}
		inc=$(printf '%s\n' "$line" | sed -n 's/.*#[[:space:]]*include[[:space:]]*["<]\([^">]*\)[">].*/\1/p')
		[ -n "$inc" ] || continue
		case $line in
		*'<'*)
			# A system header may share a core header's name (<sched.h>):
			# only a path naming core/ is the engine's.
			case $inc in core/* | */core/*) echo "$f:$n: includes <$inc>, a core header" ;; esac
			continue ;;
		esac
		if [ -f "$dir/$inc" ]; then
			case $(cd "$(dirname "$dir/$inc")" && pwd -P)/ in
			"$core"/*) echo "$f:$n: includes \"$inc\", a core header" ;;
			esac
		elif [ ! -f "include/$inc" ] && [ -f "core/$inc" ]; then
			echo "$f:$n: includes \"$inc\", a core header found only through -Icore"
		fi
	done
done | { grep . && exit 1; exit 0; } || bad=1

if [ $bad -ne 0 ]; then
	echo "plugins and serve/ may include <kiln/plugin.h> and the plugins' library (plugins/lib/), not core/" >&2
	exit 1
fi
