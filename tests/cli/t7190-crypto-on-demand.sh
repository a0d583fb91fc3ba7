# libcrypto is loaded only when kiln itself hashes with SHA-256 or reads a
# registry's base64 credentials: the plain build does not link it, and a
# no-op build and a status never map it (it cost each run about 1.7 MiB);
# a fetch pin's SHA-256 is still checked, right and wrong.
. "$(dirname "$0")/lib.sh"
# The plain build: the sanitizer build links libcurl, which maps libcrypto (see the Makefile).
KILN_BIN=$top/build/kiln
[ -x "$KILN_BIN" ] || skip "no plain build ($KILN_BIN): make builds it"
ldd "$KILN_BIN" | grep -q libcrypto && fail "the plain build links libcrypto: $(ldd "$KILN_BIN" | grep libcrypto)"
echo 1 > a.txt
cat > Kilnfile <<'K'
command "c" { inputs = { a = "a.txt" }, cmd = "cat {in.a} > {out}/o", outputs = { "o" } }
K
ok kiln build c
LD_DEBUG=files "$KILN_BIN" build c > build.out 2> ld.out || { cat build.out; fail "the no-op build failed"; }
grep -q "liblua" ld.out || fail "LD_DEBUG=files showed no library at all: the check below proves nothing"
grep -q "libcrypto" ld.out && fail "a no-op build loaded libcrypto: $(grep libcrypto ld.out | head -3)"
LD_DEBUG=files "$KILN_BIN" status > st.out 2> ld.out || true
grep -q "libcrypto" ld.out && fail "kiln status loaded libcrypto: $(grep libcrypto ld.out | head -3)"
# A fetch pin's SHA-256: libcrypto is loaded for it, and a right pin passes, a wrong one is named.
printf 'x,y\n1,2\n' > "$scratch/t.csv"
sum=$(sha256sum "$scratch/t.csv" | cut -d' ' -f1)
echo "fetch \"raw\" { url = \"file://$scratch/t.csv\", sha256 = \"$sum\" }" >> Kilnfile
LD_DEBUG=files "$KILN_BIN" fetch --update raw > up.out 2> ld.out || { cat up.out; fail "fetch --update of a right pin failed"; }
grep -q "libcrypto" ld.out || fail "kiln fetch --update did not load libcrypto: $(cat up.out)"
printf 'x,y\n1,3\n' > "$scratch/t.csv"
fails 1 kiln fetch --update raw
has "now serves sha256 $(sha256sum "$scratch/t.csv" | cut -d' ' -f1)"
has "change Kilnfile:2 to"
