# checkpoint = true on a command: $KILN_CHECKPOINT is a folder kept across a
# run that did not finish (here: it failed), given back to the next run of
# the same key, and removed once the step built. Without it there is none.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "c" {
  cmd = [[n=$(cat "$KILN_CHECKPOINT/n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$KILN_CHECKPOINT/n"
          [ $n -ge 3 ] || { echo "run $n, not done"; exit 1; }; echo "done after $n runs" > {out}/o]],
  outputs = { "o" },
  checkpoint = true,
}
command "plain" { cmd = [[echo "${KILN_CHECKPOINT-unset}" > {out}/o]], outputs = { "o" } }
K
fails 1 kiln build c
has "run 1, not done"
ok kiln status
has "c                        stale: never built; resumable"
fails 1 kiln build c
has "kiln: c: resuming from its checkpoint"
has "run 2, not done"
ok kiln build
same kiln-out/c/o "done after 3 runs"
same kiln-out/plain/o "unset"
[ -z "$(ls .kiln/checkpoints)" ] || fail "the checkpoint outlived the build: $(ls .kiln/checkpoints)"
# Outside the sandbox, the folder is the same.
rm -rf kiln-out .kiln/state "$KILN_CACHE_DIR"
fails 1 kiln build --sandbox=off c
has "run 1, not done"
# Ctrl-C (SIGINT to kiln) stops the step; its checkpoint stays and kiln says so.
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
cat > Kilnfile <<'K'
command "slow" {
  cmd = [[if [ -f "$KILN_CHECKPOINT/half" ]; then echo resumed > {out}/o; else touch "$KILN_CHECKPOINT/half"; sleep 30; fi]],
  outputs = { "o" },
  checkpoint = true,
}
K
"$KILN_BIN" build > int.out 2>&1 &
pid=$!
for i in $(seq 200); do [ -e .kiln/checkpoints/slow.*/data/half ] && break; sleep 0.05; done
kill -INT $pid
rc=0; wait $pid || rc=$?
[ $rc -eq 130 ] || fail "kiln exited $rc after SIGINT: $(cat int.out)"
grep -q "the checkpoints of 1 step are kept: the next build resumes them" int.out || fail "kiln did not say it kept the checkpoint: $(cat int.out)"
ok kiln build
has "kiln: slow: resuming from its checkpoint"
same kiln-out/slow/o resumed
