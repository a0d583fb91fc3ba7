# An absolute source path (a shared folder) is an input: bound read-only at
# the same path in the sandbox and hashed through the stat cache. A
# relative path must still stay inside the workspace after links; the
# user's own files (under $HOME) are not an input unless KILN_SHARED_DIRS
# lists them.
. "$(dirname "$0")/lib.sh"
shared=$scratch/mnt/datasets/raw
mkdir -p "$shared/sub"
echo a > "$shared/1.txt"
echo b > "$shared/sub/2.txt"
cat > Kilnfile <<K
command "cat" { inputs = { d = "$shared/" }, cmd = "echo {in.d} > {out}/o; cat {in.d}/1.txt {in.d}/sub/2.txt >> {out}/o", outputs = { "o" } }
command "write" { inputs = { d = "$shared" }, cmd = "echo x > {in.d}/new.txt", outputs = { "o" } }
K
ok kiln build cat
ran 1
same kiln-out/cat/o "$shared
a
b"
ok kiln build cat
has "nothing to do"
echo c > "$shared/sub/2.txt"
ok kiln why cat
has "input 'd'"
ok kiln build cat
ran 1
# Read-only inside the sandbox.
fails 1 kiln build write
[ ! -e "$shared/new.txt" ] || fail "a step wrote into a shared folder"
has "Read-only file system"
# An absolute path must still be plain.
printf 'command "a" { inputs = { x = "/mnt/../etc/passwd" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
fails 2 kiln build
has "has a '..' component: an absolute input must name a shared file or folder"
printf 'command "a" { inputs = { x = "/" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
fails 2 kiln build
has "is the root folder"
# A relative path leading outside through a link is refused.
ln -s "$shared" outlink
printf 'command "a" { inputs = { x = "outlink" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
fails 2 kiln build
has "outlink leads outside the workspace through a symbolic link"
# The user's own files are not a shared folder...
export HOME=$scratch/home
mkdir -p "$HOME/.ssh"
echo secret > "$HOME/.ssh/id_rsa"
printf 'command "a" { inputs = { x = "%s/.ssh" }, cmd = "cat {in.x}/id_rsa > {out}/o", outputs = {"o"} }\n' "$HOME" > Kilnfile
fails 2 kiln build
has "is the user's own (under \$HOME"
[ ! -e kiln-out/a/o ] || fail "a step read the user's files"
# ...nor reached through a link from elsewhere...
ln -s "$HOME/.ssh" "$scratch/mnt/keys"
printf 'command "a" { inputs = { x = "%s/keys" }, cmd = "cat {in.x}/id_rsa > {out}/o", outputs = {"o"} }\n' "$scratch/mnt" > Kilnfile
fails 2 kiln build
has "is the user's own"
# ...unless the user lists them.
KILN_SHARED_DIRS=/nonexistent:$HOME/.ssh ok kiln build
same kiln-out/a/o secret
# The sandbox's own folders are not shared folders.
printf 'command "a" { inputs = { x = "/etc/ssl" }, cmd = "true", outputs = {"o"} }\n' > Kilnfile
fails 2 kiln build
has "'/etc/ssl' is in one of the sandbox's own folders"
