# Output paths are checked when the Kilnfile is, before any step runs: each
# must be one plain relative path ("./d/f" is refused, not rewritten), none
# may repeat or lie inside another, and no name may be longer than a file
# system takes. The message names the target and the output.
. "$(dirname "$0")/lib.sh"

check() {	# check TEXT OUTPUTS…: the Kilnfile with these outputs fails with TEXT
	local text=$1 list="" o
	shift
	for o in "$@"; do list="$list\"$o\", "; done
	printf 'command "a" {\n  cmd = "touch {out}/ran",\n  outputs = { %s },\n}\n' "$list" > Kilnfile
	fails 2 kiln build
	has "Kilnfile:1: target 'a': field 'outputs'"
	has "$text"
	[ ! -e kiln-out ] || fail "the step ran"
}

check "'.' has a '.' component" .
check "'..' has a '..' component" ..
check "'d/../e' has a '..' component" d/../e
check "'./d/f' has a '.' component" ./d/f
check "'d//f' has an empty component" d//f
check "'d/' has an empty component" d/
check "'/etc/passwd' is absolute" /etc/passwd
check "'' is empty" ""
check "'f' is declared twice" f g f
check "'d/f' lies inside the output 'd'" d d-x d/f
check "'d/e/f' lies inside the output 'd'" d/e/f d
long=$(printf 'x%.0s' $(seq 256))
check "has a component longer than 255 bytes" "d/$long"
# 255 bytes is a name a file system takes.
long=$(printf 'x%.0s' $(seq 255))
printf 'command "a" { cmd = "touch {out}/%s", outputs = { "%s" } }\n' "$long" "$long" > Kilnfile
ok kiln build
[ -f "kiln-out/a/$long" ] || fail "the 255-byte output is missing"
