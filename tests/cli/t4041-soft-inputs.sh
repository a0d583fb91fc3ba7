# Soft inputs (kiln.target soft = {...}): a dependent runs without a target
# that failed; a failure that only soft inputs depended on is left out and
# neither stops the build nor fails it; any other failure still does.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "good" { cmd = "echo g > {out}/o", outputs = { "o" } }
command "bad" { cmd = "echo broken; exit 3", outputs = { "o" } }
command "mid" { inputs = { b = ":bad" }, cmd = "cp {in.b}/o {out}/o", outputs = { "o" } }
kiln.target { name = "user", plugin = "exec",
  inputs = { g = ":good", b = ":bad", m = ":mid" }, soft = { "g", "b", "m" },
  params = { cmd = 'echo "g=${KILN_IN_G:-none} b=${KILN_IN_B:-none} m=${KILN_IN_M:-none}" > {out}/o' },
  outputs = { "o" } }
K
# bad fails, mid is not built, user runs without both: the build succeeds.
ok kiln build -j1
has "target 'bad' failed: the command exited with status 3"
has "left out: 'user' takes it as a soft input and runs without it"
has "1 failed"
has "1 not built (a dependency failed)"
same kiln-out/user/o "g=kiln-out/good b=none m=none"
# Nothing changed: bad runs (and fails) again, user is up to date ("ran"
# counts the steps that succeeded).
ok kiln build -j1
ran 0
has "1 failed"
has "2 up to date"
# Once bad builds, user's key changes and it runs with every input.
sed -i 's/echo broken; exit 3/echo b > {out}\/o/' Kilnfile
ok kiln build -j1
same kiln-out/user/o "g=kiln-out/good b=kiln-out/bad m=kiln-out/mid"
ok kiln why user
# A failure something needs for itself (a hard input of a target nothing
# else takes) still fails the build and stops it without -k.
cat > Kilnfile <<'K'
command "bad" { cmd = "exit 3", outputs = { "o" } }
command "hard" { inputs = { b = ":bad" }, cmd = "cp {in.b}/o {out}/o", outputs = { "o" } }
kiln.target { name = "user", plugin = "exec", inputs = { b = ":bad" }, soft = { "b" },
  params = { cmd = "touch {out}/o" }, outputs = { "o" } }
command "later" { cmd = "touch {out}/o", outputs = { "o" } }
K
fails 1 kiln build -j1
hasnt "left out:"
[ ! -e kiln-out/later ] || fail "the build went on after a failure that is not left out"
fails 1 kiln build -j1 -k
[ -e kiln-out/user/o ] && [ -e kiln-out/later/o ] || fail "-k did not build the rest"
# -n says a soft dependent runs after its input's target.
rm -rf kiln-out .kiln
ok kiln build -n user
has "would run user: after bad runs"
# Mistakes.
bad() { printf '%s\n' "$1" > Kilnfile; fails 2 kiln build; has "$2"; }
bad 'kiln.target { name = "u", plugin = "exec", inputs = { f = "Kilnfile" }, soft = { "f" }, params = { cmd = "true" }, outputs = { "o" } }' \
	"target 'u': field 'soft': 'f' is not one of the target's \":target\" inputs"
bad 'kiln.target { name = "u", plugin = "exec", soft = { "x" }, params = { cmd = "true" }, outputs = { "o" } }' \
	"'x' is not one of the target's"
bad 'kiln.target { name = "u", plugin = "exec", soft = "x", params = { cmd = "true" }, outputs = { "o" } }' \
	"field 'soft': expected a list of input names"
