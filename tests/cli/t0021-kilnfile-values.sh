# Values a Kilnfile hands to kiln are refused, with the file, line, target
# and field, when kiln could not use them: a recursive table (which crashed
# kiln), tables nested past the C stack kiln checks, resources out of range
# (a thousand threads is a machine's worth; 1e8 raised the CPU-time limit to
# 3.6e11 s), durations that are not finite.
. "$(dirname "$0")/lib.sh"

check() {	# check LINE TEXT: the build fails with exit 2 at Kilnfile:LINE with TEXT
	fails 2 kiln build
	has "Kilnfile:$1: $2"
	hasnt "lua_pushfstring"
	[ ! -e kiln-out ] || fail "something was built"
}

cat > Kilnfile <<'K'
local t = {} t.x = t
kiln.target{ name = "a", plugin = "exec", params = { cmd = "true", deep = t }, outputs = { "x" } }
K
check 2 "target 'a': param 'deep': the table holds itself (a recursive table cannot be a param"
cat > Kilnfile <<'K'
local t = { a = { b = { } } } t.a.b.c = { t.a }
kiln.target{ name = "a", plugin = "exec", params = { cmd = "true", deep = t }, outputs = { "x" } }
K
check 2 "target 'a': param 'deep': the table holds itself"
# The same table twice, side by side, is a tree and is fine.
cat > Kilnfile <<'K'
local t = { 1, 2 }
kiln.target{ name = "a", plugin = "exec", params = { cmd = "echo ok > $KILN_OUT/x", p = t, q = t }, outputs = { "x" } }
K
ok kiln build
same kiln-out/a/x ok
rm -rf kiln-out
# Deep but not recursive: refused past 32 tables.
cat > Kilnfile <<'K'
local t = {}
for i = 1, 200 do t = { t } end
kiln.target{ name = "a", plugin = "exec", params = { cmd = "true", deep = t }, outputs = { "x" } }
K
check 3 "target 'a': param 'deep': nested too deeply (more than 32 tables inside each other)"
printf 'local t = {}\nfor i = 1, 200 do t = { t } end\nkiln.config { slurm = { extra = t } }\n' > Kilnfile
check 3 "kiln.config: field 'slurm': nested too deeply"

for r in "cpus = 1e18" "threads = -5" "threads = 100000000" "cpus = 1 << 40" "gpus = 5000" "cpus = 0"; do
	printf 'command "a" { cmd = "true", outputs = { "o" },\n  resources = { %s } }\n' "$r" > Kilnfile
	check 1 "target 'a': resources.${r%% *}: expected an integer from"
	has "to 1024, got"
done
for r in 'timeout = 0/0' 'timeout = 1/0' 'timeout = "nan"' 'timeout = "inf"' 'timeout = "400d"' 'timeout = -1'; do
	printf 'command "a" { cmd = "true", outputs = { "o" }, resources = { %s } }\n' "$r" > Kilnfile
	check 1 "target 'a': resources.timeout: expected a duration such as"
done
for r in 'mem = "nan"' 'mem = "infG"' 'mem = 0/0'; do
	printf 'command "a" { cmd = "true", outputs = { "o" }, resources = { %s } }\n' "$r" > Kilnfile
	check 1 "target 'a': resources.mem: expected a size"
done
# In range, they are taken.
printf 'command "a" { cmd = "echo $OMP_NUM_THREADS > {out}/o", outputs = { "o" }, resources = { threads = 1024, timeout = "365d" } }\n' > Kilnfile
ok kiln build
same kiln-out/a/o 1024
