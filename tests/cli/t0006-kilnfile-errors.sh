# Mistakes in a Kilnfile are reported as FILE:LINE: message, exit 2, and
# nothing is built.
. "$(dirname "$0")/lib.sh"
mkdir data
echo x > data/x

check() {	# check LINE TEXT: the build fails with exit 2, naming Kilnfile:LINE and TEXT
	fails 2 kiln build
	has "Kilnfile:$1:"
	has "$2"
	[ ! -e kiln-out ] || fail "something was built"
}

printf 'command "a" {\n  cmd = "true",\n  outputs = { "o" \n}\n' > Kilnfile
check 5 "expected"

printf '\n\nerror("boom")\n' > Kilnfile
check 3 "boom"

printf 'command "a" {\n  cmd = "true",\n  outputs = "o",\n}\n' > Kilnfile
check 1 "target 'a': field 'outputs': expected a list of paths, got string"

printf 'kiln.target {\n  name = "a", plugin = "exec",\n  inptus = {},\n  outputs = {"o"} }\n' > Kilnfile
check 1 "target 'a': unknown field 'inptus'"

printf 'command "a" {\n  cmd = "true", outptus = {"o"} }\n' > Kilnfile
check 1 "command 'a': unknown field 'outptus'"

printf 'command "a" { cmd = 42, outputs = {"o"} }\n' > Kilnfile
check 1 "command 'a': field 'cmd': expected a string, got number"

printf 'command "a" { cmd = "true", outputs = {"o"} }\n\ncommand "a" { cmd = "true", outputs = {"o"} }\n' > Kilnfile
check 3 "target 'a' is already declared at Kilnfile:1"

printf 'command "a" { inputs = { x = ":nope" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
check 1 "target 'a': input 'x' names unknown target ':nope'"

cat > Kilnfile <<'K'
command "a" { inputs = { x = ":c" }, cmd = "true", outputs = {"o"} }
command "b" { inputs = { x = ":a" }, cmd = "true", outputs = {"o"} }
command "c" { inputs = { x = ":b" }, cmd = "true", outputs = {"o"} }
K
fails 2 kiln build
matches "dependency cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)"

printf 'command "a" {\n inputs = { x = "data/missing.csv" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
check 1 "target 'a': input 'x': data/missing.csv does not exist"

printf 'command "a" { inputs = { x = "data/*.parquet" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
check 1 "target 'a': input 'x': the pattern data/*.parquet matches no file"

printf 'command "a" { inputs = { x = "../etc/passwd" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
check 1 "must be a path inside the workspace"

printf 'command "a" { cmd = "cat {in.nope}", outputs = {"o"} }\n' > Kilnfile
check 1 "target 'a': cmd uses {in.nope}, but the target has no input named 'nope'"

printf 'kiln.target { name = "a", plugin = "nosuch", outputs = {"o"} }\n' > Kilnfile
check 1 "no plugin named 'nosuch'"

printf 'command "a" { cmd = "true", outputs = {"o"}, resources = { mem = "lots" } }\n' > Kilnfile
check 1 "resources.mem: expected a size"

printf 'io.open("/etc/passwd")\n' > Kilnfile
check 1 "io"

printf 'include "nothere.lua"\n' > Kilnfile
check 1 "include: cannot read 'nothere.lua'"

# include works for the repository's own rule files.
mkdir -p lib
printf 'function twice(name, text)\n  command(name) { cmd = "echo " .. text .. text .. " > {out}/o", outputs = {"o"} }\nend\n' > lib/rules.lua
printf 'include "lib/rules.lua"\ntwice("t", "ab")\n' > Kilnfile
ok kiln build
same kiln-out/t/o abab

rm -f Kilnfile
fails 2 kiln build
has "no Kilnfile in"
