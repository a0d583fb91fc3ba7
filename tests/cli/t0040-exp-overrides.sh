# kiln build -S TARGET.FIELD=VALUE builds as if the Kilnfile said so: the
# rule checks the value, it is part of the key, why names it, and an
# unknown target or field, or a value that is no literal, is an error.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
local shared = { lr = 0.1, opt = "sgd" }
command "m" { cmd = "echo {param.lr} {param.opt} > {out}/v", params = shared, outputs = { "v" } }
command "n" { cmd = "echo {param.lr} > {out}/v", params = shared, outputs = { "v" } }
K
ok kiln build
same kiln-out/m/v "0.1 sgd"
ok kiln build -S m.params.lr=0.25 --set 'm.params.opt="adam"'
ran 1
same kiln-out/m/v "0.25 adam"
# The shared table was copied, not changed: n keeps its value.
same kiln-out/n/v "0.1"
ok kiln status -S m.params.lr=0.25 -S 'm.params.opt="adam"'
has "up to date"
ok kiln why m
has "param 'lr' changed"
ok kiln why -S m.params.lr=0.5 -S 'm.params.opt="adam"' m
has "param 'lr' changed (override -S m.params.lr=0.5)"
hasnt "param 'opt' changed"
# Back to the Kilnfile's value, then to the override again: both restored, nothing runs.
ok kiln build
ran 0
same kiln-out/m/v "0.1 sgd"
ok kiln build -S m.params.lr=0.25 -S 'm.params.opt="adam"'
ran 0
same kiln-out/m/v "0.25 adam"
# A table value, a new nested field.
ok kiln build -S 'm.params.extra={ depth = 3 }'
ok kiln build -S m.params.extra.depth=4
# Errors name the override.
fails 2 kiln build -S nosuch.lr=1
has "-S nosuch.lr=1: no target 'nosuch' in the Kilnfile"
fails 2 kiln build -S m.learning_rate=1
has "command 'm': unknown field 'learning_rate' (with -S m.learning_rate=1)"
fails 2 kiln build -S m.cmd=42
has "command 'm': field 'cmd': expected a string, got number (with -S m.cmd=42)"
fails 2 kiln build -S m.params.lr.x=1
has "-S m.params.lr.x=1: field 'lr' is a number, not a table"
fails 2 kiln build -S m.params.opt=adam
has "-S m.params.opt=adam: 'adam' is not a value (a string needs quotes"
fails 2 kiln build -S 'm.params.lr=function() end'
has "is not a number, string, boolean or table of them"
fails 2 kiln build -S 'm.params.lr=0.1 +'
has "is not a Lua value"
fails 2 kiln build -S m.params.lr
has "-S m.params.lr: expected TARGET.FIELD=VALUE"
# The value runs with no environment, no string methods and a memory limit.
fails 2 kiln build -S 'm.params.x=os.exit(0)'
has "cannot be read"
fails 2 kiln build -S 'm.params.x=("x"):rep(2^30)'
has "cannot be read"
fails 2 kiln build -S 'm.params.x=(function() local s = "x" for i = 1, 40 do s = s .. s end return s end)()'
has "not enough memory"
fails 2 kiln build -S 'm.params.x=(function() while true do end end)()'
has "takes too long"
# A rule library rule checks the value as it checks the file.
cat > Kilnfile <<'K'
dataset "d" { source = "data.csv", target = "y" }
K
printf 'a,y\n1,0\n2,1\n' > data.csv
fails 2 kiln build -S 'd.target=7'
has "(with -S d.target=7)"
# kiln.target directly: the override lands on its own fields.
cat > Kilnfile <<'K'
kiln.target { name = "raw", plugin = "exec", params = { cmd = "echo raw > {out}/v" }, outputs = { "v" } }
K
ok kiln build -S 'raw.params.cmd="echo over > {out}/v"'
same kiln-out/raw/v "over"
fails 2 kiln build -S raw.bogus=1
has "unknown field 'bogus'"
