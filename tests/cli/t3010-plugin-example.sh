# The example plugin in examples/plugin builds with its own Makefile against
# include/kiln/plugin.h alone, kiln finds it in the repository's plugins/,
# runs it in the sandbox, and its check() refuses a bad param before
# anything runs.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/plugin/." .
rm -rf plugins kiln-out .kiln Kilnfile.lock
ok make KILN_INCLUDE="$top/include"
[ -f plugins/wordcount.so ] || fail "make did not build plugins/wordcount.so"
ok kiln plugins
matches "wordcount +1\.0 +1 +repository +counts the words"
ok kiln build
ran 2
same kiln-out/counts/top.csv "$(printf 'word,count\nand,5\nwater,4\na,3\nof,3\nevery,2')"
same kiln-out/report/most-common.txt and
ok kiln metrics
matches "counts +distinct_words +68"
grep -q "85 words, 68 distinct, in 2 files" .kiln/logs/counts.log || fail "the plugin's log line is missing"
ok kiln build
has "nothing to do"

# check() runs before the build: a bad param fails at once, naming the target.
sed -i 's/top = 5/top = 0/' Kilnfile
rm -rf kiln-out .kiln
fails 2 kiln build
has "counts"
has "param 'top' must be a whole number of at least 1"
[ ! -e kiln-out/report ] || fail "a step ran although check() refused a param"
sed -i 's/top = 0/top = 2/' Kilnfile
ok kiln build
same kiln-out/counts/top.csv "$(printf 'word,count\nand,5\nwater,4')"
