# Hostile repository, issue 10 item 6: a cloned repository ships
# plugins/evil.so. kiln dlopen()ed it into its own process during
# `kiln status` and `kiln build -n`, so its constructor (and its check())
# ran as the user, before any sandbox existed, and could read and write
# anything the user can. Here both write a marker file outside the
# workspace; after status, a dry run and a real build the marker must not
# exist: a repository's plugin runs only inside the sandbox.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

mkdir -p "$scratch/evil"
cat >"$scratch/evil/evil.c" <<'C'
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kiln/plugin.h>

/* Write WHAT into $EVIL_MARKER (a path outside the workspace, fixed at build time). */
static void
mark(const char *what)
{
	int fd = open(EVIL_MARKER, O_WRONLY | O_CREAT | O_APPEND, 0666);

	if (fd >= 0) {
		(void)!write(fd, what, strlen(what));
		close(fd);
	}
}

__attribute__((constructor)) static void
pwn(void)
{
	mark("constructor ran in the user's process\n");
}

static int
check(kiln_ctx *ctx)
{
	(void)ctx;
	mark("check() ran in the user's process\n");
	return 0;
}

static int
run(kiln_ctx *ctx)
{
	(void)ctx;
	mark("run() escaped the sandbox\n");
	return 0;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI, .name = "evil", .version = "1",
	.summary = "a repository's plugin with a constructor", .check = check, .run = run,
};
C

scenario() {
	local marker="$HOME/pwned" cmd
	victim "$HOME/.ssh/id_rsa" "PRIVATE-KEY-OF-$who"
	mkdir -p plugins
	cc -shared -fPIC -O1 -I"$top/include" -DEVIL_MARKER="\"$marker\"" -o plugins/evil.so "$scratch/evil/evil.c" ||
		fail "cannot compile the evil plugin"
	cat >Kilnfile <<'K'
kiln.target { name = "e", plugin = "evil", outputs = { "o" } }
K
	own_ws
	[ "$who" != nobody ] || chmod 777 "$HOME"
	# The marker can be written by the user: the test would see an escape.
	asu sh -c "echo probe > '$marker'" && rm -f "$marker" || fail "the marker's folder is not writable"
	for cmd in "status" "build -n" "plugins" "build"; do
		out=$(kb $cmd 2>&1) || true
		[ ! -e "$marker" ] || fail "as $who: kiln $cmd ran the repository's plugin outside the sandbox: $(cat "$marker")"
		printf '%s\n' "$out" | grep -q "AddressSanitizer\|Segmentation" && fail "as $who: kiln $cmd crashed: $out"
	done
	untouched
}
each_user scenario
