# Sandbox: a plugin that crashes (segfault, abort) or calls exit() inside
# run() fails its target with the target's name and how it ended; with -k
# kiln goes on with the others, and the crash leaves no core file.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	use_crash_plugin
	cat > Kilnfile <<'K'
kiln.target { name = "segv", plugin = "crash", params = { how = "segv" }, outputs = { "o" } }
kiln.target { name = "quits", plugin = "crash", params = { how = "exit" }, outputs = { "o" } }
kiln.target { name = "aborts", plugin = "crash", params = { how = "abort" }, outputs = { "o" } }
kiln.target { name = "good", plugin = "crash", params = { how = "ok" }, outputs = { "o" } }
kiln.target { name = "fds", plugin = "crash", params = { how = "fds" }, outputs = { "o" } }
command "after" { inputs = { g = ":good" }, cmd = "cp {in.g}/o {out}/o", outputs = { "o" } }
K
	fails 1 kb build -k -j1
	has "target 'segv' failed"
	has "it crashed (SIGSEGV, segmentation fault)"
	has "target 'quits' failed: the plugin exited with status 3"
	has "target 'aborts' failed"
	has "it aborted (SIGABRT)"
	has "3 failed"
	same kiln-out/good/o ok
	same kiln-out/after/o ok
	[ -z "$(find . -name 'core*' -type f)" ] || fail "a crash left a core file"

	# The plugin's own process holds nothing of the sandbox's (the seccomp
	# listener would let it answer its own refused calls), only 0-2 and the
	# status pipe.
	ok kb build fds
	[ "$(grep -c . kiln-out/fds/o)" = 4 ] || fail "the plugin holds more than 0-3: $(cat kiln-out/fds/o)"
	grep -q '^3 pipe:' kiln-out/fds/o || fail "no status pipe: $(cat kiln-out/fds/o)"
	! grep -q -e seccomp -e socket kiln-out/fds/o || fail "the plugin holds the sandbox's: $(cat kiln-out/fds/o)"
}
each_user scenario
