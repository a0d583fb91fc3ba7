# Hostile repository, issue 10 item 10: a cloned repository's lib.lua is a
# symlink to /etc/shadow (or to any file of the user's); `include
# "lib.lua"` read it, as root, and the parse error echoed a token of it.
# The variants: a folder link on the way (vendor -> ~), a relative link
# climbing out, the Kilnfile itself a link out. Each is refused with a
# message naming the include, showing nothing of the file.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	victim "$HOME/.secrets.lua" "TOPSECRET_TOKEN_4711 ((("
	mkdir -p "$HOME/vendor" && cp "$HOME/.secrets.lua" "$HOME/vendor/lib.lua"
	ln -sf "$HOME/.secrets.lua" lib.lua
	ln -sf "$HOME/vendor" vendor
	ln -sf "../home/.secrets.lua" rel.lua
	[ -e rel.lua ] || fail "the relative link does not lead to the victim"
	own_ws
	for inc in lib.lua vendor/lib.lua rel.lua; do
		printf 'include "%s"\n' "$inc" >Kilnfile
		fails 2 kb build
		names "Kilnfile:1" "include" "$inc" "outside"
		hasnt TOPSECRET
	done
	if [ "$(id -u)" = 0 ] && [ -e /etc/shadow ]; then
		ln -sf /etc/shadow shadow.lua
		printf 'include "shadow.lua"\n' >Kilnfile
		fails 2 kb build
		names "include" "shadow.lua" "outside"
		if [ -s /etc/shadow ]; then
			tok=$(head -1 /etc/shadow | cut -d: -f1)
			hasnt "near '$tok"
		fi
	fi
	rm -f Kilnfile
	ln -s "$HOME/.secrets.lua" Kilnfile
	fails 2 kb build
	names "Kilnfile" "outside"
	hasnt TOPSECRET
	untouched
}
each_user scenario
