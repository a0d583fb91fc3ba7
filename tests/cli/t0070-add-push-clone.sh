# kiln add keeps a file and a folder in the cache behind committed
# pointers; a fresh clone with an empty cache and the remote (real nginx)
# builds the same Kilnfile.lock, the sources restored from the remote,
# every blob checked; a blob damaged on the server is refused and named.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
mkdir -p data/imgs/sub
seq 1 2000 > data/big.csv
for i in 1 2 3; do echo "img $i" > data/imgs/$i.txt; done
echo deep > data/imgs/sub/d.txt
cat > Kilnfile <<'K'
command "sum" { inputs = { n = "data/big.csv" }, cmd = "awk '{s+=$1} END {print s}' {in.n} > {out}/sum", outputs = { "sum" } }
command "count" { inputs = { d = "data/imgs" }, cmd = "find {in.d} -type f | wc -l > {out}/n; cat {in.d}/sub/d.txt >> {out}/n", outputs = { "n" } }
K
fails 2 kiln add
has "usage: kiln add"
fails 1 kiln add /etc/passwd
has "give a path inside the workspace"
fails 1 kiln add .kiln
has "kiln's own"
ok kiln add data/big.csv data/imgs/
has "added data/big.csv: 1 file"
has "added data/imgs: 4 files"
has "data/imgs.kiln"
grep -q '^kind file$' data/big.csv.kiln || fail "pointer: $(cat data/big.csv.kiln)"
grep -q '^files 4$' data/imgs.kiln || fail "pointer: $(cat data/imgs.kiln)"
grep -qx '/big.csv' data/.gitignore || fail "gitignore: $(cat data/.gitignore)"
grep -qx '/imgs' data/.gitignore || fail "gitignore: $(cat data/.gitignore)"
# Adding again changes nothing and writes no second .gitignore line.
ok kiln add data/big.csv
has "unchanged data/big.csv"
[ "$(grep -c big.csv data/.gitignore)" = 1 ] || fail "duplicate .gitignore line"
ok kiln build
ran 2
same kiln-out/count/n "4
deep"
ok kiln status --check
# A changed tracked file: the build uses it, status names it, --check fails.
echo 2001 >> data/big.csv
fails 1 kiln status --check
has "data/big.csv: changed since 'kiln add' (run kiln add to record it)"
ok kiln add data/big.csv
has "updated data/big.csv"
ok kiln build
ok kiln status --check
ok kiln push --remote "$remote"
has "pushed 2 targets and 2 tracked sources"

# A fresh clone: committed files only (pointers, .gitignore), an empty cache.
mkdir ../clone
cp Kilnfile Kilnfile.lock ../clone/
mkdir ../clone/data
cp data/*.kiln data/.gitignore ../clone/data/
cd ../clone
export KILN_CACHE_DIR=$scratch/cache2
ok kiln status
has "data/big.csv: missing; tracked by data/big.csv.kiln"
fails 2 kiln build
has "data/big.csv is missing; data/big.csv.kiln tracks it, but the local cache lacks its files and there is no remote cache"
ok kiln build --remote "$remote"
has "data/big.csv: fetching"
has "data/imgs: restored from $remote"
ran 0
cmp data/big.csv ../ws/data/big.csv || fail "restored file differs"
diff -r data/imgs ../ws/data/imgs || fail "restored folder differs"
cmp Kilnfile.lock ../ws/Kilnfile.lock || fail "a different Kilnfile.lock"
ok kiln status --check

# kiln pull restores a missing tracked source too; from the local cache now.
rm -rf data/imgs
ok kiln pull --remote "$remote"
has "data/imgs: restored from the local cache"
# A blob damaged on the server is refused and reported; nothing is kept.
rm -rf data/imgs "$KILN_CACHE_DIR"
for f in $(find "$scratch/srv/data/cas" -type f); do
	if [ "$(cat "$f")" = "deep" ]; then chmod u+w "$f"; echo evil > "$f"; fi
done
fails 2 kiln build --remote "$remote"
has "bad blob"
has "data/imgs"
[ ! -e data/imgs ] || fail "a folder with a damaged blob was kept"
[ ! -e data/imgs.kiln-part ] || fail "a partial folder was kept"

# --remove stops tracking; the data stays.
cd ../ws
ok kiln add --remove data/big.csv
has "no longer tracked"
[ ! -e data/big.csv.kiln ] && [ -f data/big.csv ] || fail "--remove"
grep -q big.csv data/.gitignore && fail ".gitignore line kept"
fails 1 kiln add --remove data/big.csv
has "is not tracked"
