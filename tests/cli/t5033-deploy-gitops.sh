# deploy: gitops = { repo, branch, path }. kiln deploy commits the
# digest-pinned manifests into a clone of a real (bare) git repository and
# pushes them, the message naming the target, the image digest and the gate
# metrics; a push refused because a colleague pushed first is retried after
# a rebase (and reported when the rebase cannot be done); --rollback is a
# new commit restoring the previous manifests, made from the repository's
# history alone, so a colleague's fresh clone of the project can roll back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
start_registry
export HOME=$scratch/home
mkdir -p "$HOME"
git config --global user.name "Test User"
git config --global user.email test@example.com
git config --global init.defaultBranch main
bare=$scratch/config.git
git init -q --bare "$bare"
git clone -q "$bare" "$scratch/colleague" 2>/dev/null
(cd "$scratch/colleague" && echo "cluster config" >README && git add README && git commit -qm "start" && git push -q origin HEAD:main)

cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", name = "iris", tag = "1" }
deploy "iris_prod" {
  image = ":iris_image", registry = "127.0.0.1:$reg_port/iris", manifests = "deploy",
  after = { ":iris_test" },
  gitops = { repo = "$bare", branch = "main", path = "apps/iris" },
}
K
ok kiln deploy iris_prod
has "kiln: gitops: committed"
has "to $bare main (apps/iris)"
d1=$(json_get kiln-out/iris_image/image.json digest)
ok git --git-dir="$bare" show main:apps/iris/deployment.yaml
has "image: 127.0.0.1:$reg_port/iris@$d1"
ok git --git-dir="$bare" log -1 --format=%B main
has "kiln deploy iris_prod: 127.0.0.1:$reg_port/iris@$d1"
matches "iris_test: accuracy=[0-9.]+ .*f1_macro="
has "Kiln-Target: iris_prod"
has "Kiln-Digest: $d1"
ok git --git-dir="$bare" log -1 --format=%an main
has "Test User"
commit=$(git --git-dir="$bare" rev-parse main)
tail -1 .kiln/deployments/log | grep -q "\"commit\":\"$commit\"" || fail "the log does not name the commit: $(tail -1 .kiln/deployments/log)"
ok git --git-dir="$bare" show main:README
has "cluster config"

# The same image again: nothing to commit.
ok kiln deploy iris_prod
has "has these manifests already"
[ "$(git --git-dir="$bare" rev-parse main)" = "$commit" ] || fail "a deploy of the same image made a commit"

# A colleague pushes while kiln builds: the bare repository's update hook
# lets their commit in first and refuses kiln's push once.
race() {	# race FILE TEXT: the commit the hook puts on main before refusing kiln's push
	(cd "$scratch/colleague" && git pull -q origin main && mkdir -p "$(dirname "$1")" && echo "$2" >"$1" &&
		git add "$1" && git commit -qm "colleague: $1" && git push -q origin HEAD:refs/heads/colleague)
	cat >"$bare/hooks/update" <<H
#!/bin/sh
[ "\$1" = refs/heads/main ] || exit 0
[ -e "$bare/raced" ] && exit 0
touch "$bare/raced"
git update-ref refs/heads/main refs/heads/colleague
echo "someone pushed first" >&2
exit 1
H
	chmod +x "$bare/hooks/update"
	rm -f "$bare/raced"
}
race NOTES "colleague's notes"
sed -i 's/tag = "1"/tag = "2"/' Kilnfile
ok kiln deploy iris_prod
has "rebased onto newer commits there"
d2=$(json_get kiln-out/iris_image/image.json digest)
ok git --git-dir="$bare" log --format=%s main
has "kiln deploy iris_prod: 127.0.0.1:$reg_port/iris@$d2"
has "colleague: NOTES"
ok git --git-dir="$bare" show main:NOTES
has "colleague's notes"
ok git --git-dir="$bare" show main:apps/iris/deployment.yaml
has "@$d2"

# The colleague changed the same manifest: the rebase cannot be done, nothing is pushed.
race apps/iris/deployment.yaml "edited by hand"
sed -i 's/tag = "2"/tag = "3"/' Kilnfile
fails 1 kiln deploy iris_prod
has "gitops $bare: the push to main was refused and the rebase onto the commits there failed"
has "its manifests were not committed; $PWD/deploy is unchanged"
grep -q "@$d2" deploy/deployment.yaml || fail "a failed gitops commit changed deploy/"
rm "$bare/hooks/update"
(cd "$scratch/colleague" && git pull -q origin main && git revert --no-edit HEAD >/dev/null && git push -q origin HEAD:main)
sed -i 's/tag = "3"/tag = "2"/' Kilnfile

# A colleague's fresh copy of the project rolls back, from the repository's history alone.
mkdir "$scratch/other"
cp -r Kilnfile data "$scratch/other/"
(cd "$scratch/other" && "$KILN_BIN" deploy --rollback iris_prod) >"$scratch/other.out" 2>&1 ||
	{ cat "$scratch/other.out" >&2; fail "the colleague's rollback failed"; }
out=$(cat "$scratch/other.out")
has "rolled iris_prod back from $d2 to $d1"
ok git --git-dir="$bare" show main:apps/iris/deployment.yaml
has "@$d1"
ok git --git-dir="$bare" log -1 --format=%B main
has "kiln rollback iris_prod: back to $d1"
has "Kiln-Action: rollback"
grep -q "@$d1" "$scratch/other/deploy/deployment.yaml" || fail "the colleague's manifests folder was not rolled back"
# Here, the repository says there is nothing older left.
fails 1 kiln deploy --rollback iris_prod
has "no earlier deployment of 'iris_prod' in $bare main (apps/iris) to roll back to (1 kiln commits)"
# Deploying again and rolling back here: a new commit, not a rewrite.
ok kiln deploy iris_prod
n=$(git --git-dir="$bare" rev-list --count main)
ok kiln deploy --rollback iris_prod
has "rolled iris_prod back from $d2 to $d1"
[ "$(git --git-dir="$bare" rev-list --count main)" = $((n + 1)) ] || fail "a rollback should add one commit"
grep -q "@$d1" deploy/deployment.yaml || fail "rollback did not restore deploy/"

# A repository that cannot be reached: nothing is pushed.
sed -i "s|repo = \"$bare\"|repo = \"$scratch/nowhere.git\"|" Kilnfile
sed -i 's/tag = "2"/tag = "4"/' Kilnfile
fails 1 kiln deploy iris_prod
has "gitops $scratch/nowhere.git: cannot clone it"
has "nothing was pushed"
ok skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_port/iris:2"
fails 1 skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_port/iris:4"
