# Hostile Kilnfile, issue 10 (names where they enter): a Lua string may
# hold a NUL that C cuts it at: `command "a\0b"` became target 'a' (and
# could collide with or shadow another), `cmd = "echo a\0rm -rf …"` ran
# `echo a` (what the reviewer read is not what runs), an output "o\0/../x"
# was 'o'. Each is refused at its Kilnfile line with a message showing the
# NUL; nothing runs and the file it aimed at is untouched.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	local k
	victim "$HOME/precious" "do not delete"
	while IFS= read -r k; do
		printf 'command "ok" { cmd = "echo ok > {out}/o", outputs = { "o" } }\n%s\n' "$k" >Kilnfile
		own_ws
		fails 2 kb build
		names "Kilnfile:2" "\\\\0"
		[ ! -e kiln-out ] || fail "as $who: something was built from: $k"
		untouched_again
	done <<K
command "a\\0b" { cmd = "true", outputs = { "o" } }
command "a" { cmd = "echo a\\0rm -f $HOME/precious", outputs = { "o" } }
command "a" { cmd = "true", outputs = { "o\\0/../x" } }
command "a" { inputs = { d = "Kilnfile\\0/../../x" }, cmd = "true", outputs = { "o" } }
command "a" { cmd = "true", outputs = { "o" }, env = { HOME = "x\\0y" } }
kiln.target { name = "a", plugin = "exec\\0x", outputs = { "o" } }
include "lib.lua\\0x"
K
}

# untouched_again: the victim is as it was (untouched forgets the victims).
untouched_again() {
	local keep=("${victims[@]}")
	untouched
	victims=("${keep[@]}")
}
each_user scenario
