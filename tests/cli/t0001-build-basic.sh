# A command target builds; its inputs and output folder reach the command as
# {in.NAME}/{out} and as KILN_IN_<NAME>/KILN_OUT; a second build runs nothing.
. "$(dirname "$0")/lib.sh"
mkdir data
echo "alice bob" > data/names.txt
cat > Kilnfile <<'K'
command "shout" {
  inputs  = { names = "data/names.txt" },
  cmd     = "tr a-z A-Z < {in.names} > {out}/shout.txt",
  outputs = { "shout.txt" },
}
command "env" {
  inputs  = { prev = ":shout", names = "data/names.txt" },
  cmd     = "echo $KILN_IN_PREV $KILN_IN_NAMES $KILN_OUT > {out}/env.txt; cat {in.prev}/shout.txt >> {out}/env.txt",
  outputs = { "env.txt" },
}
K
ok kiln build
ran 2
same kiln-out/shout/shout.txt "ALICE BOB"
[ "$(head -1 kiln-out/env/env.txt)" = "kiln-out/shout data/names.txt .kiln/tmp/env/out" ] || fail "env: $(cat kiln-out/env/env.txt)"
[ "$(tail -1 kiln-out/env/env.txt)" = "ALICE BOB" ] || fail "upstream output not readable"
ok kiln build
has "nothing to do: 2 targets up to date"
# Only what is asked for, and what it needs.
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
ok kiln build shout
ran 1
[ ! -e kiln-out/env ] || fail "built a target that was not asked for"
fails 2 kiln build nosuch
has "no target named 'nosuch'"
