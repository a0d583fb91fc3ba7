# Blobs at or above KILN_S3_MULTIPART_MIN go to S3 as a multipart upload
# (CreateMultipartUpload, UploadPart side by side, CompleteMultipartUpload);
# the object round-trips: a second workspace fetches it, checks its digest
# and gets the same bytes. Thresholds lowered for the test (documented).
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/s3.sh"
start_s3 "$scratch/s3" kiln-cache
url=s3://kiln-cache/mp
export KILN_S3_MULTIPART_MIN=1M KILN_S3_PART_SIZE=256K
cat > Kilnfile <<'K'
command "big" { cmd = "head -c 2500000 /dev/urandom > {out}/noise; seq 1 400000 > {out}/seq; echo s > {out}/small", outputs = { "noise", "seq", "small" } }
K
ok kiln build --remote "$url"
has "uploaded 1 targets (3 blobs"
hasnt "warning"
noise=$(xxh128sum kiln-out/big/noise | cut -d' ' -f1)
sq=$(xxh128sum kiln-out/big/seq | cut -d' ' -f1)
# The parts, as the server saw them: 10 of 256 KiB for the noise (2.5 MB, zstd cannot shrink it) and one
# complete per large blob; the small blob went in one PUT.
parts=$(grep -c 'partNumber=' "$scratch/s3/log" || true)
[ "$parts" -ge 10 ] || fail "expected at least 10 UploadPart requests, saw $parts: $(tail -20 "$scratch/s3/log")"
s3curl -o "$scratch/obj" "$s3_endpoint/kiln-cache/mp/cas-zstd/$noise"
zstd -q -d -c "$scratch/obj" | cmp - kiln-out/big/noise || fail "the object put together from the parts is not the blob"

mkdir ../ws2
cp Kilnfile ../ws2/
cd ../ws2
KILN_CACHE_DIR=$scratch/c2 ok kiln build --remote "$url"
ran 0
has "fetched 1 targets (3 blobs"
hasnt "warning"
cmp kiln-out/big/noise ../ws/kiln-out/big/noise || fail "noise differs after the round trip"
cmp kiln-out/big/seq ../ws/kiln-out/big/seq || fail "seq differs after the round trip"
[ "$(xxh128sum kiln-out/big/seq | cut -d' ' -f1)" = "$sq" ] || fail "seq's digest changed"
