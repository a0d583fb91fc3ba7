# -j runs steps side by side, resources.cpus takes slots, and a step past
# its timeout is stopped with a message that says so.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "a" { cmd = "sleep 2; date +%s.%N > {out}/t", outputs = { "t" } }
command "b" { cmd = "sleep 2; date +%s.%N > {out}/t", outputs = { "t" } }
K
elapsed() { local s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - s) / 1000000)); }
ms=$(elapsed kiln build -j2)
[ "$ms" -lt 3500 ] || fail "-j2 took ${ms} ms for two 2 s steps"
rm -rf kiln-out "$KILN_CACHE_DIR" .kiln
ms=$(elapsed kiln build -j1)
[ "$ms" -ge 4000 ] || fail "-j1 took only ${ms} ms for two 2 s steps"
# Two steps that each take two CPUs do not share two slots.
sed -i 's/outputs = { "t" } }/outputs = { "t" }, resources = { cpus = 2 } }/' Kilnfile
rm -rf kiln-out "$KILN_CACHE_DIR" .kiln
ms=$(elapsed kiln build -j2)
[ "$ms" -ge 4000 ] || fail "two 2-cpu steps shared 2 slots (${ms} ms)"
cat > Kilnfile <<'K'
command "slow" { cmd = "sleep 30; touch {out}/o", outputs = { "o" }, resources = { timeout = "1s" } }
K
start=$(date +%s)
fails 1 kiln build
has "target 'slow' failed: it ran past its timeout of 1s and was stopped"
[ $(($(date +%s) - start)) -lt 10 ] || fail "the timeout did not stop the step"
[ ! -e kiln-out/slow ] || fail "a timed-out step left outputs"
