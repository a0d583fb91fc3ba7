# Hostile repository, issue 10 item 3: a cloned repository commits
# .kiln/lock -> ~/.profile. kiln truncated ~/.profile and wrote its pid
# into it. The variants: .kiln/state, .kiln/graph (kiln's other files of
# the workspace, renamed into place or read) and Kilnfile.lock linked to a
# file of the user's. kiln must refuse the link, naming it, and leave the
# file as it was.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	local f
	cat >Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/o", outputs = { "o" } }
K
	for f in .kiln/lock .kiln/state .kiln/graph Kilnfile.lock; do
		victim "$HOME/.profile" "umask 077 # the user's own" 644
		rm -rf .kiln kiln-out Kilnfile.lock
		mkdir .kiln
		ln -s "$HOME/.profile" "$f"
		own_ws
		refused kb build
		names "$(printf '%s' "$f" | sed 's/\./\\./g')" "link"
		untouched
	done
}
each_user scenario
