# Write access by token, read access for everyone (the set-up
# docs/remote-cache.md gives), and --remote-read-only.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv" s3cret
mkdir data
echo 21 > data/n
cat > Kilnfile <<'K'
command "double" { inputs = { n = "data/n" }, cmd = "echo $(( $(cat {in.n}) * 2 )) > {out}/d", outputs = { "d" } }
K
# Without the token the server refuses the upload: a warning, never a failed build.
ok kiln build --remote "$remote"
ran 1
has "refuses uploads (http://127.0.0.1"
has "HTTP 403"
same kiln-out/double/d 42
[ -z "$(find "$scratch/srv/data" -type f)" ] || fail "an upload without the token was stored"
# --remote-read-only: not even asked.
echo 22 > data/n
ok kiln build --remote "$remote" --remote-read-only
ran 1
hasnt "refuses"
# With the token (a whole header, or a bare Authorization value) it is stored.
echo 23 > data/n
KILN_REMOTE_HEADER="Authorization: Bearer s3cret" ok kiln build --remote "$remote"
ran 1
has "uploaded 1 targets"
hasnt "warning"
echo 24 > data/n
KILN_REMOTE_HEADER="Bearer s3cret" ok kiln build --remote "$remote"
has "uploaded 1 targets"
# Or from a netrc file (basic authentication), as curl reads one.
printf 'machine 127.0.0.1 login ci password s3cret\n' > "$scratch/netrc"
echo 25 > data/n
KILN_REMOTE_NETRC=$scratch/netrc ok kiln build --remote "$remote"
has "uploaded 1 targets"
hasnt "warning"
printf 'machine 127.0.0.1 login ci password wrong\n' > "$scratch/netrc"
echo 26 > data/n
KILN_REMOTE_NETRC=$scratch/netrc ok kiln build --remote "$remote"
has "HTTP 403"
echo 24 > data/n
ok kiln build
# Anyone reads.
mkdir ../other
cp -r Kilnfile data ../other/
cd ../other
export KILN_CACHE_DIR=$scratch/cache2
ok kiln build --remote "$remote"
ran 0
same kiln-out/double/d 48
