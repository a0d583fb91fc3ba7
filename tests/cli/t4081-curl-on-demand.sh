# libcurl is loaded only when kiln talks to a server: a build and a status
# with no remote (and no fetch target, whose plugin links it) never map it;
# kiln fetch --update does, and a libcurl that lacks what kiln calls is
# refused by name, not crashed on.
. "$(dirname "$0")/lib.sh"
# The plain build: the sanitizer build links libcurl (see the Makefile).
KILN_BIN=$top/build/kiln
[ -x "$KILN_BIN" ] || skip "no plain build ($KILN_BIN): make builds it"
ldd "$KILN_BIN" | grep -q libcurl && fail "the plain build links libcurl"
echo 1 > a.txt
cat > Kilnfile <<'K'
command "c" { inputs = { a = "a.txt" }, cmd = "cat {in.a} > {out}/o", outputs = { "o" } }
K
LD_DEBUG=files "$KILN_BIN" build c > build.out 2> ld.out || { cat build.out; fail "the build failed"; }
grep -q "libcurl" ld.out && fail "a build with no remote loaded libcurl: $(grep libcurl ld.out | head -3)"
grep -q "liblua" ld.out || fail "LD_DEBUG=files showed no library at all: the check above proves nothing"
LD_DEBUG=files "$KILN_BIN" status > st.out 2> ld.out || true
grep -q "libcurl" ld.out && fail "kiln status loaded libcurl"
# kiln fetch --update needs it: it is loaded then.
echo 'fetch "raw" { url = "file:///nonexistent/t.csv", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }' >> Kilnfile
LD_DEBUG=files "$KILN_BIN" fetch --update raw > up.out 2> ld.out || true
grep -q "libcurl" ld.out || fail "kiln fetch --update did not load libcurl: $(cat up.out)"
# A libcurl.so.4 without libcurl's functions (found first on LD_LIBRARY_PATH).
mkdir fake
echo 'int kiln_not_curl;' > fake/c.c
cc -shared -fPIC -o fake/libcurl.so.4 fake/c.c || skip "no C compiler to build a stand-in library"
LD_LIBRARY_PATH=$PWD/fake fails 2 kiln fetch --update raw
has "libcurl (libcurl.so.4) has no curl_global_init"
