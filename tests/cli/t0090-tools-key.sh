# tools = { NAME = "/host/path" }: a host folder is hashed into the key, bound
# read-only in the sandbox, and `kiln why` names the file that changed;
# kiln.config's tools reach every target; a missing tool fails clearly.
. "$(dirname "$0")/lib.sh"
site=$scratch/site
mkdir -p "$site/numpy" "$site/other"
echo '1.24' > "$site/numpy/version.py"
echo x > "$site/other/a.py"
cat > Kilnfile <<K
kiln.config { tools = { site = "$site" } }
command "a" { cmd = "cat $site/numpy/version.py > {out}/v", outputs = { "v" } }
command "b" { cmd = "ls $site > {out}/l; touch $site/w 2>/dev/null && echo writable >> {out}/l; true",
  outputs = { "l" }, tools = { py = "/usr/bin/python3" } }
K
ok kiln build
same kiln-out/a/v "1.24"
# The folder is in the sandbox, read-only.
same kiln-out/b/l "numpy
other"
ok kiln build
has "up to date"
echo '1.26' > "$site/numpy/version.py"
fails 1 kiln status --check
has "a                        stale: tool 'site': numpy/version.py changed"
ok kiln why a
matches "tool 'site': numpy/version.py changed: [0-9a-f]{32} -> [0-9a-f]{32}"
ok kiln build
same kiln-out/a/v "1.26"
echo y > "$site/numpy/new.py"
ok kiln why b
has "tool 'site': numpy/new.py was added"
rm "$site/other/a.py"
ok kiln why b
has "tool 'site': numpy/new.py was added"
ok kiln build
rm "$site/numpy/new.py"
ok kiln why a
has "tool 'site': numpy/new.py was removed"
# A tool that is not on this machine.
cat > Kilnfile <<K
command "c" { cmd = "touch {out}/o", outputs = { "o" }, tools = { gone = "$scratch/nosuch" } }
K
fails 2 kiln build
matches "Kilnfile:1: target 'c': tool 'gone': cannot read $scratch/nosuch: No such file"
cat > Kilnfile <<K
command "c" { cmd = "touch {out}/o", outputs = { "o" }, tools = { rel = "usr/bin" } }
K
fails 2 kiln build
has "target 'c': tool 'rel': 'usr/bin' is not an absolute path"
