# kiln metrics diff / params diff [REV]: the workspace's values against
# Kilnfile.lock at a git revision of a real repository, with the change of
# each number; --json; the run history records the commit and dirtiness.
. "$(dirname "$0")/lib.sh"
command -v git >/dev/null || { echo "skip: no git"; exit 0; }
g() { git -c user.email=t@example.com -c user.name=t "$@"; }
cat > Kilnfile <<'K'
command "m" {
  cmd = [[echo '{"acc": {param.acc}, "f1": 0.5}' > {out}/m.json]],
  params = { acc = 0.75, opt = "sgd" },
  metrics = "m.json",
}
K
printf 'kiln-out/\n.kiln/\n' > .gitignore
g init -q .
ok kiln build
g add -A && g commit -qm first
ok kiln metrics diff
has "no metric changed since HEAD"
sed -i 's/acc = 0.75/acc = 0.875/; s/"sgd"/"adam"/' Kilnfile
ok kiln build
ok kiln metrics diff HEAD
matches "^TARGET +NAME +HEAD +WORKSPACE +CHANGE$"
matches "^m +acc +0.75 +0.875 +\+0.125$"
hasnt "f1"
ok kiln metrics diff --all
matches "^m +f1 +0.5 +0.5"
ok kiln params diff
matches "^m +acc +0.75 +0.875 +\+0.125$"
matches "^m +opt +sgd +adam +changed$"
ok kiln metrics diff --json
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d==[{"target":"m","name":"acc","old":0.75,"new":0.875,"change":0.125}], d' "$out" ||
	fail "metrics diff --json: $out"
ok kiln params diff --json HEAD
python3 -c 'import json,sys; d={e["name"]:e for e in json.loads(sys.argv[1])}; assert d["opt"]["old"]=="sgd" and d["opt"]["new"]=="adam" and "change" not in d["opt"] and d["acc"]["change"]==0.125, d' "$out" ||
	fail "params diff --json: $out"
# The run history knows the commit, and that the tree was dirty.
head=$(git rev-parse HEAD)
ok kiln exp show --json
python3 -c 'import json,sys; r=json.loads(sys.argv[1])[-1]; assert r["git"]=={"commit":sys.argv[2],"dirty":True}, r' "$out" "$head" ||
	fail "git in the history: $out"
g commit -qam second
ok kiln build -S m.params.acc=0.5
ok kiln exp show --json
python3 -c 'import json,sys; r=json.loads(sys.argv[1])[-1]; assert r["git"]["dirty"] is False, r' "$out" || fail "clean tree: $out"
# Against an older revision; errors name the revision.
ok kiln metrics diff HEAD~1
matches "^m +acc +0.75 +0.5 +-0.25$"
fails 2 kiln metrics diff nosuchrev
has "git show nosuchrev:./Kilnfile.lock"
fails 2 kiln params diff --json -- --output=x
has "'--output=x' is not a revision"
# A workspace in a subfolder of the repository reads its own lock.
mkdir sub && cp Kilnfile sub/ && (cd sub && kiln build >/dev/null) && g add -A && g commit -qm sub
(cd sub && kiln metrics diff --all) > sub.out 2>&1 || fail "metrics diff in a subfolder: $(cat sub.out)"
grep -qE '^m +acc +0.875 +0.875' sub.out || fail "subfolder: $(cat sub.out)"
# Outside a repository.
rm -rf .git
fails 2 kiln metrics diff
has "git show HEAD:./Kilnfile.lock"
