# Every step has a wall-clock limit: its own resources.timeout, else
# kiln.config's timeout, else 6 hours (the unit test checks that default);
# "none" at either level lifts it.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
kiln.config { timeout = "1s" }
command "slow" { cmd = "sleep 30; touch {out}/o", outputs = { "o" } }
command "own" { cmd = "sleep 2; touch {out}/o", outputs = { "o" }, resources = { timeout = "20s" } }
command "free" { cmd = "sleep 2; touch {out}/o", outputs = { "o" }, resources = { timeout = "none" } }
K
start=$(date +%s)
fails 1 kiln build -j3
has "Kilnfile:2: target 'slow' failed: it ran past its timeout of 1s and was stopped"
[ $(($(date +%s) - start)) -lt 20 ] || fail "the default from kiln.config did not stop the step"
[ -f kiln-out/own/o ] || fail "a target's own timeout does not win over kiln.config's"
[ -f kiln-out/free/o ] || fail "timeout = \"none\" does not lift kiln.config's"

sed -i 's/timeout = "1s"/timeout = "none"/; s/sleep 30/sleep 2/' Kilnfile
ok kiln build -j3
[ -f kiln-out/slow/o ] || fail "kiln.config { timeout = \"none\" } still stops the step"

printf 'kiln.config { timeout = "soon" }\n' > Kilnfile
fails 2 kiln build
has "Kilnfile:1: kiln.config: field 'timeout': expected a duration such as"
