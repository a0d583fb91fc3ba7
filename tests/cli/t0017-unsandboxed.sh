# Outputs built with --sandbox=off are marked in Kilnfile.lock, and a
# sandboxed build does not take them as its own: it runs the step again.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/a", outputs = { "a" } }
K
ok kiln build --sandbox=off
has "warning: --sandbox=off"
grep -q '^a unsandboxed$' Kilnfile.lock || fail "the lock does not mark unsandboxed outputs"
ok kiln build --sandbox=off
has "nothing to do"
ok kiln build
ran 1
grep -q 'unsandboxed' Kilnfile.lock && fail "the lock still says unsandboxed"
rm -rf kiln-out
ok kiln build
has "1 restored"
# The sandboxed entry now in the cache serves an unsandboxed build too.
rm -rf kiln-out
ok kiln build --sandbox=off
has "1 restored"
