# Hostile repository: a copied repository's own .git/config names commands
# for git to run. kiln asks git for the commit and whether the tree is dirty
# (`git status`, on every build that records a run) and for the lock file's
# history (`git log`, in kiln report). A filter driver's clean or process
# command runs in `git status` for each file whose stat changed, also when
# it comes from an included config file; gpg.program runs in `git log` with
# log.showSignature for a signed commit. None of them may run, and the run
# must still record the commit and that the tree is dirty.
. "$(dirname "$0")/../cli/lib.sh"
command -v git >/dev/null || skip "no git"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
mark=$scratch/pwned
evil() { printf "sh -c 'echo %s >>%s; cat'" "$1" "$mark"; }
echo notes >notes.txt
git init -q .
git -c user.email=a@b -c user.name=a add -A
git -c user.email=a@b -c user.name=a commit -qm "iris"
# A signed-looking commit on top, so git log has a signature to check.
tree=$(git rev-parse HEAD^{tree})
parent=$(git rev-parse HEAD)
signed=$(printf 'tree %s\nparent %s\nauthor a <a@b> 1700000000 +0000\ncommitter a <a@b> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n' "$tree" "$parent" |
	git hash-object -t commit -w --stdin)
git update-ref HEAD "$signed"
git config filter.ev.clean "$(evil clean)"
git config filter.ev.smudge "$(evil smudge)"
git config filter.ev.required true
git config filter.'we=ird'.process "$(evil process)"
git config include.path extra.cfg
printf '[filter "inc"]\n\tclean = "%s"\n' "$(evil included)" >.git/extra.cfg
git config log.showSignature true
printf '#!/bin/sh\necho gpg >>%s\n' "$mark" >"$scratch/gpg"
chmod +x "$scratch/gpg"
git config gpg.program "$scratch/gpg"
printf '* filter=ev\n*.csv filter=we=ird\nREADME.md filter=inc\n' >.git/info/attributes
# Every tracked file's stat changes, and one file's bytes.
sleep 1
touch data/* README.md notes.txt
printf '\n-- changed\n' >>Kilnfile

ok kiln build
[ ! -e "$mark" ] || fail "git ran the repository's own commands during kiln build: $(cat "$mark")"
ok kiln exp show --json
has "\"commit\": \"$signed\""
has '"dirty": true'
ok kiln report -o report.html
[ ! -e "$mark" ] || fail "git ran the repository's own commands during kiln report: $(cat "$mark")"
# The same git, told nothing, runs each of them: the test would see it.
git status --porcelain >/dev/null 2>&1 || true
git log -n1 >/dev/null 2>&1 || true
for w in clean process included gpg; do
	grep -qx "$w" "$mark" 2>/dev/null || fail "plain git did not run the hostile '$w' command; this test proves nothing for it"
done
