# Ctrl-C during kiln verify stops the rebuild and its steps, leaves no
# temporary workspace behind, and exits 130.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "slow" { cmd = "sleep 3; echo done > {out}/s", outputs = { "s" } }
K
ok kiln build
export TMPDIR=$scratch/tmp
mkdir "$TMPDIR"
# Its own process group, as a terminal's Ctrl-C reaches the whole foreground group.
setsid "$KILN_BIN" verify > "$scratch/v.log" 2>&1 &
vpid=$!
sleep 1
[ -n "$(ls "$TMPDIR")" ] || fail "verify made no temporary workspace"
start=$(date +%s)
kill -INT -- -$vpid
rc=0
wait $vpid || rc=$?
[ $rc -eq 130 ] || { cat "$scratch/v.log"; fail "expected exit 130, got $rc"; }
[ $(($(date +%s) - start)) -lt 5 ] || fail "verify took more than 5s to stop"
grep -q "interrupted" "$scratch/v.log" || fail "verify did not say it was interrupted"
[ -z "$(ls "$TMPDIR")" ] || fail "the temporary workspace was left in $TMPDIR"
pgrep -g $vpid >/dev/null && fail "processes of the rebuild outlived it" || true
