# Helpers for the hostile-repository tests (tests/fault/t01NN-hostile-*.sh):
# a Kilnfile, a build step, a cloned repository's files or a remote entry
# written by an attacker, aimed at a file of the user's outside the
# workspace. Source it after tests/cli/lib.sh and tests/sandbox/lib.sh:
#
#	scenario() { victim "$HOME/.ssh/id_rsa" KEY; …; refused 1 kb build; names steal link; untouched; }
#	each_user scenario
#
# Victims live under the scenario's $HOME, which each_user makes in the
# scratch folder: never the real home.

# The victims of this scenario: "path|mode|sha256" each.
victims=()

# victim PATH TEXT [MODE]: a file of the user's that the attack aims at (mode 600 unless told).
victim() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1"
	chmod "${3:-600}" "$1"
	[ "$who" != nobody ] || chown -R nobody:nogroup "$HOME"
	victims+=("$1|$(stat -c %a "$1")|$(sha256sum <"$1")")
}

# untouched: every victim is still there, a plain file, with its bytes and mode.
untouched() {
	local v path mode sum
	for v in "${victims[@]}"; do
		IFS='|' read -r path mode sum <<<"$v"
		[ -f "$path" ] && [ ! -L "$path" ] || fail "as $who: the victim $path is gone (or replaced by a link)"
		[ "$(sha256sum <"$path")" = "$sum" ] || fail "as $who: the victim $path was changed: $(head -c 200 "$path")"
		[ "$(stat -c %a "$path")" = "$mode" ] || fail "as $who: the victim $path changed mode to $(stat -c %a "$path")"
	done
	victims=()
}

# refused CMD…: CMD must fail (any status but 0, and not a crash); output in $out.
refused() {
	local rc=0
	out=$("$@" 2>&1) || rc=$?
	[ $rc -ne 0 ] || { printf '%s\n' "$out" >&2; fail "as $who: expected kiln to refuse: $*"; }
	[ $rc -lt 128 ] || { printf '%s\n' "$out" >&2; fail "as $who: kiln died of signal $((rc - 128)): $*"; }
	return 0
}

# names WORD…: $out must mention every WORD (a regular expression, any case), on one line.
names() {
	local w line=""
	line=$(printf '%s\n' "$out")
	for w in "$@"; do
		line=$(printf '%s\n' "$line" | grep -iE -- "$w") ||
			{ printf '%s\n' "$out" >&2; fail "as $who: expected a message naming: $* (missing: $w)"; }
	done
}

# nowhere TEXT DIR…: no file under the DIRs holds TEXT.
nowhere() {
	local text=$1 d
	shift
	for d in "$@"; do
		[ -e "$d" ] || continue
		if grep -rlaF -- "$text" "$d" >/dev/null 2>&1; then
			fail "as $who: '$text' reached $(grep -rlaF -- "$text" "$d" | head -3 | tr '\n' ' ')"
		fi
	done
}

# snapshot DIR: every path under DIR with its type and mode, to compare before and after.
snapshot() {
	find "$1" -printf '%P %y %m\n' 2>/dev/null | sort
}
