# Evaluating a Kilnfile has an instruction budget and a memory limit: a loop
# that never ends, a pattern that backtracks for ever and a string doubled
# forty times end in an error naming the file and the line reached, with
# the kiln.config field that raises the limit, and nothing is built.
. "$(dirname "$0")/lib.sh"

check() {	# check WHERE TEXT: the build fails with exit 2, naming WHERE and TEXT
	rm -rf kiln-out
	fails 2 timeout 60 "$KILN_BIN" build
	has "$1"
	has "$2"
	[ ! -e kiln-out ] || fail "something was built"
}

# The default budget stops an endless loop.
printf 'local x = 1\n\nwhile true do x = x + 1 end\n' > Kilnfile
check "Kilnfile:3: evaluation exceeded its instruction budget (500000000 instructions)" \
	'raise `eval_instructions` in kiln.config'

# A lower budget from kiln.config; an endless loop in an included file is
# reported there; a pcall cannot swallow the error and carry on.
printf 'kiln.config { eval_instructions = 2e6 }\ninclude "lib.lua"\n' > Kilnfile
printf '\nwhile true do pcall(function() while true do end end) end\n' > lib.lua
check "lib.lua:2: evaluation exceeded its instruction budget (2000000 instructions)" "eval_instructions"

# Catastrophic backtracking runs in C, where no hook fires: the match is
# charged its worst case before it runs.
for call in 's:find("a-a-a-a-a-b")' 'string.match(s, ".-.-.-b")' 's:gsub("a*a*a*c", "")' \
	'(function() for w in s:gmatch("a-a-a-b") do end end)()'; do
	printf 'local s = string.rep("a", 50000)\nlocal r = %s\n' "$call" > Kilnfile
	check "Kilnfile:2: evaluation exceeded its instruction budget" "on a 50000-byte string with the pattern"
done
# The rule library's own patterns, on ordinary strings, stay well within it.
cat > Kilnfile <<'K'
local names = {}
for i = 1, 2000 do names[#names + 1] = ("step_%d"):format(i):gsub("_", "-") end
command "a" { cmd = "echo " .. #table.concat(names, " "):gsub("%s+", " ") .. " > {out}/o", outputs = { "o" } }
K
ok kiln build
same kiln-out/a/o 18892

# Memory: a string doubled forty times.
printf 'kiln.config { eval_memory = "64M" }\nlocal s = "x"\nfor i = 1, 40 do\n  s = s .. s\nend\n' > Kilnfile
check "Kilnfile:4: evaluation exceeded its memory limit (64.0 MiB)" 'raise `eval_memory` in kiln.config'
printf 'kiln.config { eval_memory = "32M" }\nlocal t = {}\nfor i = 1, 1e9 do t[i] = {i} end\n' > Kilnfile
check "Kilnfile:3: evaluation exceeded its memory limit (32.0 MiB)" "eval_memory"
# Raising the limit lets the same Kilnfile through.
cat > Kilnfile <<'K'
kiln.config { eval_memory = "256M", eval_instructions = 1e9 }
local s = ("x"):rep(1 << 20):rep(40)
command "a" { cmd = "echo " .. #s .. " > {out}/o", outputs = { "o" } }
K
ok kiln build
same kiln-out/a/o 41943040

# The limits' own fields are checked.
printf 'kiln.config { eval_memory = "1K" }\n' > Kilnfile
check "Kilnfile:1: kiln.config: field 'eval_memory': expected a size from" "got 1K"
printf 'kiln.config { eval_instructions = -1 }\n' > Kilnfile
check "Kilnfile:1: kiln.config: field 'eval_instructions': expected a whole number" "got -1"
