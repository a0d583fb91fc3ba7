# Hostile repository, issue 10 item 4: a cloned repository commits
# kiln-out -> ~ and declares a target named Documents. kiln deleted
# ~/Documents and replaced it with the step's outputs. The variants: only
# kiln-out/Documents is the link; `kiln clean` on a kiln-out that is a
# link. kiln must refuse, naming kiln-out (or the link in it), and delete
# nothing of the user's.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	victim "$HOME/Documents/thesis.tex" "\\title{four years of work}"
	cat >Kilnfile <<'K'
command "Documents" { cmd = "echo gone > {out}/o", outputs = { "o" } }
K
	ln -s "$HOME" kiln-out
	own_ws
	before=$(snapshot "$HOME")
	refused kb build
	names "kiln-out" "link"
	untouched
	[ "$(snapshot "$HOME")" = "$before" ] || fail "as $who: the home folder changed: $(diff <(echo "$before") <(snapshot "$HOME"))"
	refused kb clean
	names "kiln-out" "link"
	victim "$HOME/Documents/thesis.tex" "\\title{four years of work}"
	untouched

	rm kiln-out
	mkdir kiln-out
	ln -s "$HOME/Documents" kiln-out/Documents
	own_ws
	refused kb build
	names "kiln-out/Documents" "link"
	victim "$HOME/Documents/thesis.tex" "\\title{four years of work}"
	untouched
	[ "$(snapshot "$HOME")" = "$before" ] || fail "as $who: the home folder changed"
}
each_user scenario
