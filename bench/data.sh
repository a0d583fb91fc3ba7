#!/usr/bin/env bash
# bench/data.sh [FILE_MiB] [NFILES] [JOIN_MiB] [CSV_MiB] — data that does not live in
# git, each figure beside its peer in the same run:
#   kiln add of one large file (default 2048 MiB) beside xxh128sum of it
#     (git add of it is left out: git deflates it, 608 s for 2 GiB here);
#   kiln add of a folder of NFILES files of 1 KiB (default 1,000,000) beside
#     git add of the same folder and xxh128sum run over every file;
#   a no-op kiln status over a target reading that folder beside git status
#     (with its untracked cache) on the same folder;
#   disk bytes after kiln add and a build over the large file (hardlinks
#     counted once), and after a dataset (validate) build over a CSV of
#     CSV_MiB (default 512: validate holds the table in memory);
#   a join with a JOIN_MiB (default 1024) generated left side: seconds and
#     peak memory.
# On a small shared machine run it with smaller sizes: bench/data.sh 512 100000 256 128.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
mib=${1:-2048}
nfiles=${2:-1000000}
jmib=${3:-1024}
cmib=${4:-512}
work=$(mktemp -d /tmp/kiln-bench-data.XXXXXX)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export KILN_CACHE_DIR=$work/cache
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }'; }
row() { printf '%-46s %9s s\n' "$1" "$2"; }
kb() { du -sk --apparent-size "$@" 2>/dev/null | awk '{ s += $1 } END { print s }'; }
# One du over every path: a hardlinked file (kiln-out beside its cache blob) counts once.
disk() { du -skxc "$@" 2>/dev/null | tail -1 | awk '{ printf "%.0f MiB", $1 / 1024 }'; }
cpu() { /usr/bin/time -o "$work/cpu" -f '%U %S' "$@" >/dev/null 2>&1; awk '{ printf "%.2f", $1 + $2 }' "$work/cpu"; }

cd "$work"
echo "== one file of $mib MiB (from the page cache)"
mkdir ws && cd ws
head -c $((mib * 1024 * 1024)) /dev/urandom > big.bin
cat big.bin > /dev/null
echo 'command "use" { inputs = { b = "big.bin" }, cmd = "wc -c < {in.b} > {out}/n", outputs = { "n" } }' > Kilnfile
row "xxh128sum big.bin" "$(secs xxh128sum big.bin)"
row "kiln status, first (hashes big.bin)" "$(secs "$KILN" status)"
rm -rf .kiln
row "kiln add big.bin (hash + store in the cache)" "$(secs "$KILN" add big.bin)"
row "kiln add big.bin again (unchanged)" "$(secs "$KILN" add big.bin)"
echo "disk after kiln add: workspace $(disk big.bin), cache $(disk "$KILN_CACHE_DIR"), both $(disk . "$KILN_CACHE_DIR") (goal: 2 copies)"
row "kiln build (reads the file in place)" "$(secs "$KILN" build -q)"
echo "disk after a build: both $(disk . "$KILN_CACHE_DIR") (goal: no more than after kiln add)"
cd .. && rm -rf ws "$KILN_CACHE_DIR"

echo "== dataset over a CSV of $cmib MiB tracked by kiln add"
mkdir ws && cd ws
awk -v n=$((cmib * 1024 * 1024 / 32)) 'BEGIN { print "id,a,b"; srand(1); for (i = 0; i < n; i++) printf "%d,%d,%.9f\n", i, i % 977, rand() }' > t.csv
echo 'dataset "t" { source = "t.csv" }' > Kilnfile
echo "t.csv: $(disk t.csv)"
row "kiln add t.csv" "$(secs "$KILN" add t.csv)"
echo "disk after kiln add: both $(disk . "$KILN_CACHE_DIR") (workspace file + cache)"
row "kiln build (dataset: validate, output = the source's blob)" "$(secs "$KILN" build -q)"
echo "disk after a build: both $(disk . "$KILN_CACHE_DIR"); kiln-out/t/data.csv links: $(stat -c %h kiln-out/t/data.csv)"
rm -rf kiln-out
row "kiln build after rm -rf kiln-out (restore)" "$(secs "$KILN" build -q)"
echo "disk after the restore: both $(disk . "$KILN_CACHE_DIR")"
cd .. && rm -rf ws "$KILN_CACHE_DIR"

echo "== a folder of $nfiles files of 1 KiB"
mkdir ws && cd ws
python3 - "$nfiles" <<'PY'
import os, sys
n = int(sys.argv[1]); os.makedirs("imgs")
for d in range(0, n, 1000):
    os.makedirs("imgs/%04d" % (d // 1000))
    for i in range(d, min(n, d + 1000)):
        with open("imgs/%04d/%d.bin" % (d // 1000, i), "wb") as f:
            f.write(os.urandom(1024))
PY
echo 'command "count" { inputs = { d = "imgs" }, cmd = "find {in.d} -type f | wc -l > {out}/n", outputs = { "n" } }' > Kilnfile
find imgs -type f | xargs cat > /dev/null
row "xxh128sum over every file (find | xargs)" "$(secs sh -c 'find imgs -type f -print0 | xargs -0 xxh128sum')"
row "kiln status, first (hashes every file)" "$(secs "$KILN" status)"
rm -rf .kiln
row "kiln add imgs" "$(secs "$KILN" add imgs)"
row "kiln add imgs again (unchanged: stat only)" "$(secs "$KILN" add imgs)"
(mkdir ../g && cd ../g && git init -q && git config core.untrackedCache true && cp -r ../ws/imgs . &&
	row "git add imgs (fresh repository)" "$(secs git add imgs)" &&
	git commit -qm x && git status >/dev/null &&
	row "git status (no-op, untracked cache)" "$(secs git status)" &&
	row "  its CPU (user + sys)" "$(cpu git status)")
rm -rf ../g
"$KILN" build -q >/dev/null 2>&1 || true
"$KILN" status >/dev/null 2>&1 || true
row "kiln status (no-op)" "$(secs "$KILN" status)"
row "  its CPU (user + sys)" "$(cpu "$KILN" status)"
cd .. && rm -rf ws "$KILN_CACHE_DIR"

echo "== join: a $jmib MiB left side, a 50,000-row right side"
mkdir ws && cd ws
rows=$((jmib * 1024 * 1024 / 64))
awk -v n="$rows" 'BEGIN { print "id,a,b,c"; for (i = 0; i < n; i++) printf "%d,%d,text-%d-padding-abcdefghijklm,%.3f\n", i % 100000, i, i, i / 7 }' > left.csv
awk 'BEGIN { print "id,label"; for (i = 0; i < 100000; i += 2) printf "%d,L%d\n", i, i % 3 }' > right.csv
echo 'join "j" { left = "left.csv", right = "right.csv", on = "id" }' > Kilnfile
echo "left.csv: $(($(stat -c %s left.csv) / 1048576)) MiB, $rows rows"
row "kiln build (join)" "$(secs "$KILN" build -q)"
grep -h 'peak memory' .kiln/logs/j.log | sed 's/^/  join /'
row "sort + join (coreutils), for scale" "$(secs sh -c 'tail -n +2 left.csv | sort -t, -k1,1 > l.s; tail -n +2 right.csv | sort -t, -k1,1 > r.s; join -t, l.s r.s > /dev/null')"
