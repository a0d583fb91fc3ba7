# Helpers for the sandbox tests (tests/cli/t3NNN-sandbox-*.sh). Source it
# after tests/cli/lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$top/tests/sandbox/lib.sh"
#	scenario() { …; kb build …; }
#	each_user scenario
#
# each_user runs the scenario once as the user running the tests and, when
# that is root, once more as nobody through setpriv: the sandbox must hold
# with and without privileges. Each run gets its own workspace and cache.

# Compile the hostile program once, world-readable, for both users.
mkdir -p "$scratch/bin"
cc -O1 -o "$scratch/bin/hostile" "$top/tests/sandbox/hostile.c" ||
	fail "cannot compile tests/sandbox/hostile.c"
chmod 755 "$scratch/bin" "$scratch/bin/hostile"

# As root, each_user runs kiln as nobody too, who may not be able to enter
# the folder of the build (a clone in /root, or in a mktemp -d folder, is
# mode 700): both users run a copy of kiln, kiln-run and the plugins from
# the scratch folder, which everyone may enter (tests/cli/t0024 checks it).
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$scratch/kiln/plugins"
	cp "$build/kiln" "$build/kiln-run" "$scratch/kiln/"
	cp "$build"/plugins/*.so "$scratch/kiln/plugins/"
	chmod -R a+rX "$scratch/kiln"
	KILN_BIN=$scratch/kiln/kiln
fi

# The command that runs a program as the scenario's user ("" for oneself).
as=()

# kb ARGS: kiln, as the scenario's user.
kb() {
	"${as[@]}" env KILN_CACHE_DIR="$KILN_CACHE_DIR" HOME="$HOME" "$KILN_BIN" "$@"
}

# asu CMD…: any command as the scenario's user.
asu() {
	"${as[@]}" "$@"
}

# who: "root", "nobody" or the user's name, for messages.
who=

# use_hostile: put the hostile program in the workspace as bin/hostile.
use_hostile() {
	mkdir -p bin
	cp "$scratch/bin/hostile" bin/hostile
	[ -z "$who" ] || [ "$who" != nobody ] || chown -R nobody bin
}

# use_crash_plugin: build the misbehaving plugin into the workspace's plugins/.
use_crash_plugin() {
	mkdir -p plugins
	cc -shared -fPIC -O1 -I"$top/include" -o plugins/crash.so "$top/tests/sandbox/crash.c" -lpthread ||
		fail "cannot compile tests/sandbox/crash.c"
}

# in_ws USER: a fresh workspace (and cache) owned by USER; cd into it.
in_ws() {
	local d="$scratch/as-$1"
	rm -rf "$d"
	mkdir -p "$d/ws" "$d/cache" "$d/home"
	# Root becomes nobody; a suite run as nobody (an ordinary user) stays itself.
	if [ "$1" = nobody ] && [ "$(id -u)" = 0 ]; then
		chown -R nobody:nogroup "$d"
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	else
		as=()
	fi
	chmod 755 "$d"
	export KILN_CACHE_DIR="$d/cache"
	export HOME="$d/home"
	who=$1
	cd "$d/ws"
}

# own_ws: give files made by the test back to the scenario's user.
own_ws() {
	[ "$who" != nobody ] || chown -R nobody:nogroup .
}

# each_user FN: run FN as oneself and, as root, also as nobody.
each_user() {
	local me
	me=$(id -un)
	in_ws "$me"
	"$1"
	if [ "$(id -u)" = 0 ]; then
		in_ws nobody
		"$1"
	fi
}

# whole TARGET: did TARGET's step get a cgroup, limiting memory for all its
# processes together (docs/sandbox.md)? Its log's first line says.
whole() {
	grep -q "^kiln: sandbox: limits: memory .* for all the step's processes together" ".kiln/logs/$1.log"
}

# log_of TARGET: the step's log.
log_of() {
	cat ".kiln/logs/$1.log"
}
