# kiln.grid: every combination in a stable order, with variant names
# (base@k=v,...) that are target names, paths and Kilnfile.lock lines;
# its mistakes are errors at the Kilnfile's line.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
for _, v in ipairs(kiln.grid { lr = { 0.05, 0.1 }, l2 = { 0.001, 1e-5 }, hidden = { { 64, 32 }, { 8 } } }) do
  command(v:name("m")) { cmd = "echo lr=" .. v.lr .. " l2=" .. v.l2 .. " > {out}/x", outputs = { "x" } }
end
local v = kiln.grid { seed = { 1 } }[1]
command "plain" { cmd = "echo " .. v.seed .. " > {out}/x", outputs = { "x" } }
K
ok kiln graph
order=$(printf '%s\n' "$out" | grep -o '"m@[^"]*" \[' | tr -d '"[ ')
want='m@hidden=64_32,l2=0.001,lr=0.05
m@hidden=64_32,l2=0.001,lr=0.1
m@hidden=64_32,l2=1e-05,lr=0.05
m@hidden=64_32,l2=1e-05,lr=0.1
m@hidden=8,l2=0.001,lr=0.05
m@hidden=8,l2=0.001,lr=0.1
m@hidden=8,l2=1e-05,lr=0.05
m@hidden=8,l2=1e-05,lr=0.1'
[ "$order" = "$want" ] || fail "grid order/names: got
$order"
ok kiln build -j2
has "9 targets: 9 ran"
same "kiln-out/m@hidden=8,l2=1e-05,lr=0.1/x" "lr=0.1 l2=1e-05"
[ -f ".kiln/logs/m@hidden=64_32,l2=0.001,lr=0.05.log" ] || fail "no log for a variant"
grep -q '^m@hidden=8,l2=0.001,lr=0.05 out x ' Kilnfile.lock || fail "variant missing from Kilnfile.lock"
ok kiln build "m@hidden=8,l2=0.001,lr=0.05"
has "nothing to do"
ok kiln why "m@hidden=8,l2=0.001,lr=0.05"
# A target input can name a variant.
cat >> Kilnfile <<'K'
command "after" { inputs = { m = ":m@hidden=8,l2=0.001,lr=0.05" }, cmd = "cat {in.m}/x > {out}/y", outputs = { "y" } }
K
ok kiln build after
same kiln-out/after/y "lr=0.05 l2=0.001"

# Mistakes.
bad() { printf '%s\n' "$1" > Kilnfile; fails 2 kiln build; has "$2"; }
bad 'kiln.grid { }' "Kilnfile:1: kiln.grid: expected at least one parameter"
bad 'kiln.grid { lr = 0.1 }' "Kilnfile:1: kiln.grid: 'lr': expected a non-empty list of values, got 0.1"
bad 'kiln.grid { lr = {} }' "kiln.grid: 'lr': expected a non-empty list of values"
bad 'kiln.grid { algo = { "a b" } }' "kiln.grid: 'algo' value 1: expected a number, a boolean, a string of letters"
bad 'kiln.grid { lr = { 0/0 } }' "kiln.grid: 'lr' value 1: expected a number"
bad 'kiln.grid { name = { 1 } }' "kiln.grid: 'name' is a variant's method; rename the key"
bad 'kiln.grid { ["a-b"] = { 1 } }' "kiln.grid: a key must be a name of letters, digits and '_', got \"a-b\""
bad 'kiln.grid { x = { "1", 1 } }' "kiln.grid: two combinations are both written 'x=1'"
bad 'local v = kiln.grid { lr = { 1 } }[1]
command "c" (v:with { lr = 2 })' "Kilnfile:2: variant:with: field 'lr' is set both by the grid and in the table"
# Target names: '=' and ',' only in a variant part, after a base name.
bad 'command "a=b" { cmd = "true", outputs = { "o" } }' "target 'a=b': the name may hold only letters, digits, '_', '-' and '.', then a variant part after '@'"
bad 'command "@x" { cmd = "true", outputs = { "o" } }' "target '@x': the name may hold only"
bad 'command "m@" { cmd = "true", outputs = { "o" } }' "target 'm@': the name may hold only"
bad 'command "m@a/b" { cmd = "true", outputs = { "o" } }' "target 'm@a/b': the name may hold only"
bad "command \"m@$(printf 'x%.0s' $(seq 200))\" { cmd = \"true\", outputs = { \"o\" } }" "(at most 200 bytes)"
bad 'command "c" { inputs = { x = ":a@b@c=" }, cmd = "true", outputs = { "o" } }' "':a@b@c=' is not a valid target name"
# Lua's own select still works beside the select rule.
printf '%s\n' 'assert(select("#", 1, 2, 3) == 3 and select(2, "a", "b") == "b")' 'command "c" { cmd = "touch {out}/o", outputs = { "o" } }' > Kilnfile
ok kiln build
