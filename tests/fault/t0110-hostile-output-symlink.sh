# Hostile step, issue 10 item 1: a step's outputs run through a symlink it
# made, pointing at the user's files. `ln -s $HOME/.ssh {out}/sub` with
# outputs = { "sub/id_rsa" } had kiln move the private key out of ~/.ssh,
# chmod it 0644, store it in the cache, install it in kiln-out and hand it
# to the next step. The variants: a declared output that is itself a link
# to a file, a declared output folder that is a link, a link inside an
# output folder, a link two levels down. Each must fail the step, naming it
# and the path, and leave the key where it was, as it was, and out of the
# cache and kiln-out.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	victim "$HOME/.ssh/id_rsa" "PRIVATE-KEY-OF-$who"
	victim "$HOME/.ssh/config" "Host *"
	cat >Kilnfile <<K
command "steal" { cmd = "ln -s $HOME/.ssh {out}/sub", outputs = { "sub/id_rsa" } }
command "use" { inputs = { s = ":steal" }, cmd = "cat {in.s}/sub/id_rsa > {out}/o", outputs = { "o" } }
command "file_link" { cmd = "ln -s $HOME/.ssh/id_rsa {out}/key", outputs = { "key" } }
command "dir_link" { cmd = "ln -s $HOME/.ssh {out}/d", outputs = { "d" } }
command "inner_link" { cmd = "mkdir {out}/d; echo x > {out}/d/ok; ln -s $HOME/.ssh/id_rsa {out}/d/key", outputs = { "d" } }
command "deep" { cmd = "mkdir {out}/a; ln -s $HOME/.ssh {out}/a/b", outputs = { "a/b/id_rsa" } }
K
	own_ws
	refused kb build use
	names "target 'steal'" "sub" "link"
	[ ! -e kiln-out/use/o ] || fail "as $who: the next step ran on the stolen key"
	untouched_key
	refused kb build file_link
	names "target 'file_link'" "key" "link|not a regular file"
	untouched_key
	refused kb build dir_link
	names "target 'dir_link'" "'d'|d/" "link|not a regular file"
	untouched_key
	refused kb build inner_link
	names "target 'inner_link'" "d/key" "link|not a regular file"
	untouched_key
	refused kb build deep
	names "target 'deep'" "a/b" "link"
	untouched_key
	untouched
}

# The key is in ~/.ssh as it was, and nowhere kiln keeps things.
untouched_key() {
	local v
	for v in "${victims[@]}"; do
		IFS='|' read -r path _ _ <<<"$v"
		[ -f "$path" ] || fail "as $who: $path was moved away"
	done
	nowhere "PRIVATE-KEY-OF-$who" "$KILN_CACHE_DIR" kiln-out .kiln/tmp
}
each_user scenario
