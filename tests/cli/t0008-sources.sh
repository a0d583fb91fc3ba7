# Sources can be files, folders or globs; a folder's digest changes when any
# file in it does.
. "$(dirname "$0")/lib.sh"
mkdir -p conf/sub data
echo a > conf/a.lua
echo b > conf/sub/b.lua
echo 1 > data/p1.csv
echo 2 > data/p2.csv
echo 9 > data/other.txt
cat > Kilnfile <<'K'
command "dir" { inputs = { c = "conf" }, cmd = "find {in.c} -type f | sort > {out}/list; cat {in.c}/sub/b.lua >> {out}/list", outputs = { "list" } }
command "glob" { inputs = { parts = "data/p*.csv" }, cmd = "cat {in.parts} > {out}/all; echo $KILN_IN_PARTS >> {out}/all", outputs = { "all" } }
K
ok kiln build
ran 2
same kiln-out/glob/all "1
2
data/p1.csv data/p2.csv"
echo bb > conf/sub/b.lua
ok kiln build
ran 1
has "exec dir"
echo 3 > data/p3.csv
ok kiln build
ran 1
has "exec glob"
echo 10 > data/other.txt
ok kiln build
has "nothing to do"
