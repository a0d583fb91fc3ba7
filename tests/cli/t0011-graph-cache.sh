# The evaluated Kilnfile is kept in .kiln/graph; a change to the Kilnfile or
# to a file it includes is seen at once; a damaged .kiln/graph is ignored.
. "$(dirname "$0")/lib.sh"
mkdir lib
echo 'WORD = "one"' > lib/words.lua
cat > Kilnfile <<'K'
include "lib/words.lua"
command "w" { cmd = "echo " .. WORD .. " > {out}/w", outputs = { "w" } }
K
ok kiln build
same kiln-out/w/w one
[ -s .kiln/graph ] || fail "no .kiln/graph"
# A no-op build reads the graph back rather than evaluating (and saving) again.
before=$(stat -c %Y.%y .kiln/graph)
sleep 0.01
ok kiln build
[ "$(stat -c %Y.%y .kiln/graph)" = "$before" ] || fail ".kiln/graph was not reused"
echo 'WORD = "two"' > lib/words.lua
ok kiln build
same kiln-out/w/w two
sed -i 's/echo /echo x/' Kilnfile
ok kiln build
same kiln-out/w/w xtwo
head -c 100 /dev/urandom > .kiln/graph
ok kiln build
has "nothing to do"
printf 'garbage' > .kiln/graph
echo 'WORD = ' > lib/words.lua
fails 2 kiln build
has "lib/words.lua:2: unexpected symbol"
[ ! -e .kiln/graph ] || fail "a failed evaluation left .kiln/graph"
