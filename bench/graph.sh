#!/usr/bin/env bash
# bench/graph.sh [SIZES…] — kiln against ninja, make and Snakemake on one generated graph.
#
# Each target is a small command over one source file and one upstream target
# (a binary tree: target i depends on target (i-1)/2). For each size (default
# 10000 100000) and each tool, in the same run: the full build, the no-op build
# (median of 5) with its peak memory, and the rebuild after one source changes
# (median of 5, each after a new line appended to the last leaf's source, so
# exactly one command runs each time). "overhead" is the rebuild's time less
# the time of the one command that must run (median of 5 too). The full build
# is timed once: it is minutes at 100,000 targets.
#
#   KILN=path/to/kiln   (default: ./build/kiln)   MAKE_MAX=N skip make above N targets (default 100000)
#   SNAKEMAKE_MAX=N skip Snakemake above N targets (default 10000: it plans its DAG in Python)
#   TOOLS="ninja make snakemake kiln"   which tools to run (Snakemake is skipped, with a line
#   saying so, when Debian's snakemake is not installed)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
sizes=${*:-10000 100000}
jobs=$(nproc)
work=$(mktemp -d /tmp/kiln-bench-graph.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KILN_CACHE_DIR=$work/cache
command -v ninja >/dev/null || { echo "ninja is not installed (bootstrap.sh installs it)"; exit 1; }

# secs_rss CMD…: run CMD, print "seconds peak-KiB".
secs_rss() {
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { echo "failed: $*" >&2; tail -20 "$work/out" >&2; exit 1; }
	cat "$work/time"
}

# median V…: the middle value (an odd count).
median() {
	printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
}

generate() {
	local n=$1 d=$2 i p
	mkdir -p "$d/src"
	for ((i = 0; i < n; i++)); do echo "source $i" > "$d/src/$i.txt"; done
	{
		echo "rule cat"
		echo "  command = cat \$in > \$out"
		echo "build out/0.out: cat src/0.txt"
		for ((i = 1; i < n; i++)); do
			p=$(((i - 1) / 2))
			echo "build out/$i.out: cat src/$i.txt out/$p.out"
		done
	} > "$d/build.ninja"
	{
		echo "all: $(for ((i = 0; i < n; i += 1)); do printf 'out/%d.out ' $i; done)"
		echo "out/0.out: src/0.txt"
		printf '\t@mkdir -p out; cat $^ > $@\n'
		for ((i = 1; i < n; i++)); do
			p=$(((i - 1) / 2))
			echo "out/$i.out: src/$i.txt out/$p.out"
			printf '\t@cat $^ > $@\n'
		done
	} > "$d/Makefile"
	{
		# One wildcard rule, as a Snakemake user writes it: the upstream target from the number.
		echo 'wildcard_constraints: i = r"\d+"'
		echo 'def ins(w):'
		echo '    i = int(w.i)'
		echo '    return ["src/%d.txt" % i] + (["out/%d.out" % ((i - 1) // 2)] if i else [])'
		echo 'rule all:'
		echo "    input: expand(\"out/{i}.out\", i=range($n))"
		echo 'rule cat:'
		echo '    input: ins'
		echo '    output: "out/{i}.out"'
		echo '    shell: "cat {input} > {output}"'
	} > "$d/Snakefile"
	{
		echo 'command "t0" { inputs = { s = "src/0.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }'
		for ((i = 1; i < n; i++)); do
			p=$(((i - 1) / 2))
			echo "command \"t$i\" { inputs = { s = \"src/$i.txt\", up = \":t$p\" }, cmd = \"cat {in.s} {in.up}/o > {out}/o\", outputs = { \"o\" } }"
		done
	} > "$d/Kilnfile"
}

printf '%-8s %-9s %12s %12s %12s %14s %12s\n' targets tool full_s noop_s noop_MiB rebuild_s overhead_s
for n in $sizes; do
	base=$work/g$n
	generate "$n" "$base"
	leaf=$((n - 1))
	# The one command a rebuild must run, timed alone (median of 5).
	o=()
	for r in 1 2 3 4 5; do
		o+=("$( { /usr/bin/time -f "%e" sh -c "cat $base/src/0.txt $base/src/0.txt > /dev/null" ; } 2>&1 )")
	done
	one=$(median "${o[@]}")
	for tool in ${TOOLS:-ninja make snakemake kiln}; do
		if [ "$tool" = make ] && [ "$n" -gt "${MAKE_MAX:-100000}" ]; then continue; fi
		if [ "$tool" = snakemake ]; then
			if ! command -v snakemake >/dev/null; then
				echo "(snakemake is not installed: apt-get install snakemake; skipped)"
				continue
			fi
			[ "$n" -gt "${SNAKEMAKE_MAX:-10000}" ] && continue
		fi
		d=$work/$tool$n
		rm -rf "$d" "$KILN_CACHE_DIR"
		cp -r "$base" "$d"
		cd "$d"
		case $tool in
		ninja) build=(ninja -j"$jobs") ;;
		make) build=(make -s -j"$jobs") ;;
		snakemake) build=(snakemake -q all -j"$jobs") ;;
		kiln) build=("$KILN" build -q -j"$jobs") ;;
		esac
		read -r full _ < <(secs_rss "${build[@]}")
		a=() ; m=() ; b=()
		for r in 1 2 3 4 5; do
			read -r s k < <(secs_rss "${build[@]}")
			a+=("$s"); m+=("$k")
		done
		noop=$(median "${a[@]}")
		mem=$(median "${m[@]}")
		for r in 1 2 3 4 5; do
			echo "changed $r $RANDOM" >> src/$leaf.txt
			read -r s _ < <(secs_rss "${build[@]}")
			b+=("$s")
		done
		rebuild=$(median "${b[@]}")
		over=$(awk -v a="$rebuild" -v b="$one" 'BEGIN { printf "%.3f", a - b }')
		printf '%-8s %-9s %12s %12s %12.1f %14s %12s\n' "$n" "$tool" "$full" "$noop" "$(awk -v k="$mem" 'BEGIN{print k/1024}')" "$rebuild" "$over"
		cd "$top"
		rm -rf "$d"
	done
done
echo "(seconds are wall-clock from /usr/bin/time, resolution 0.01 s; $jobs jobs; no-op and rebuild are medians of 5)"
