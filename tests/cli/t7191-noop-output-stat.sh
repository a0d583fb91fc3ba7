# A no-op build with enough targets for the second thread checks each output
# with one stat beneath kiln-out/ (docs/design.md): an output that is now a
# link, a changed one, one whose folder is a file, or a target folder that
# is a link are still caught, and nothing outside the workspace is written.
. "$(dirname "$0")/lib.sh"
for i in $(seq 0 79); do
	echo "s$i" > "$i.txt"
	echo "command \"t$i\" { inputs = { s = \"$i.txt\" }, cmd = \"cat {in.s} > {out}/o\", outputs = { \"o\" } }"
done > Kilnfile
ok kiln build
ran 80
ok kiln build
has "nothing to do: 80 targets up to date"
# The last component a link to the same bytes: not followed, the output comes back from the cache.
cp kiln-out/t5/o "$scratch/outside5"
rm kiln-out/t5/o
ln -s "$scratch/outside5" kiln-out/t5/o
ok kiln build
has "1 restored from the cache, 79 up to date"
[ -L kiln-out/t5/o ] && fail "kiln-out/t5/o is still a link"
same kiln-out/t5/o s5
same "$scratch/outside5" s5
# The same size, other bytes: restored; a new stat of the same bytes: up to date, no step.
printf 'x7\n' > kiln-out/t7/o
ok kiln build
has "1 restored from the cache, 79 up to date"
same kiln-out/t7/o s7
touch -d '2020-01-01' kiln-out/t8/o
ok kiln build
has "nothing to do: 80 targets up to date"
# A file where the target's folder was: not a stat beneath it.
rm -r kiln-out/t9 && echo s9 > kiln-out/t9
ok kiln build
has "1 restored from the cache, 79 up to date"
same kiln-out/t9/o s9
# A target folder that is a link is refused at the start, before any output is looked at.
mv kiln-out/t6 "$scratch/t6real"
ln -s "$scratch/t6real" kiln-out/t6
fails 2 kiln build
has "kiln-out/t6 is a symbolic link"
same "$scratch/t6real/o" s6
