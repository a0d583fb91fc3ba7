# tools = { packages = { … } }: the installed versions of Debian packages, from
# dpkg's database (read once per build), are in the key; an upgrade makes the
# step stale; a package that is not installed fails naming it.
. "$(dirname "$0")/lib.sh"
export KILN_TEST_DPKG_STATUS=$scratch/status
cat > "$KILN_TEST_DPKG_STATUS" <<'S'
Package: python3-numpy
Status: install ok installed
Architecture: amd64
Version: 1:1.24.2-1

Package: python3-old
Status: deinstall ok config-files
Architecture: amd64
Version: 0.1

Package: python3-scipy
Status: install ok installed
Architecture: amd64
Version: 1.10.1-2
S
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/a", outputs = { "a" }, tools = { packages = { "python3-numpy", "python3-scipy" } } }
command "b" { cmd = "echo b > {out}/b", outputs = { "b" } }
K
ok kiln build
has "2 ran"
ok kiln build
has "2 targets up to date"
# An upgrade of numpy: only a is stale, and why names the package.
sed -i 's/1:1.24.2-1/1:1.26.4-1/' "$KILN_TEST_DPKG_STATUS"
fails 1 kiln status --check
has "a                        stale: package 'python3-numpy' changed"
hasnt "b                        stale"
ok kiln build
has "1 ran"
# A package that is not installed (removed, config files only).
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/a", outputs = { "a" }, tools = { packages = { "python3-old" } } }
K
fails 2 kiln build
has "Kilnfile:1: target 'a': package 'python3-old' is not installed"
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/a", outputs = { "a" }, tools = { packages = { "Bad Name" } } }
K
fails 2 kiln build
has "target 'a': tool 'packages': 'Bad Name' is not a Debian package name"
export KILN_TEST_DPKG_STATUS=$scratch/nosuch
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/a", outputs = { "a" }, tools = { packages = { "python3-numpy" } } }
K
fails 2 kiln build
has "cannot read dpkg's database $scratch/nosuch"
