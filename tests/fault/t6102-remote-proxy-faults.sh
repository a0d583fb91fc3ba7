# A remote cache behind a proxy that answers 500, cuts bodies short or
# serves garbage: every build still ends with the right outputs, bad bytes
# never reach the local cache, and the bad blobs are reported.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
mkdir data
seq 1 2000 > data/n
cat > Kilnfile <<'K'
command "sum" { inputs = { n = "data/n" }, cmd = "awk '{s+=$1} END {print s}' {in.n} > {out}/sum; cp {in.n} {out}/copy", outputs = { "sum", "copy" } }
command "twice" { inputs = { s = ":sum" }, cmd = "echo $(( $(cat {in.s}/sum) * 2 )) > {out}/t", outputs = { "t" } }
K
ok kiln build --remote "$remote"
ran 2
cp -r kiln-out "$scratch/want"

# proxy MODE: start the misbehaving proxy in front of nginx; sets $proxy.
proxy() {
	local port i
	port=$(free_port)
	/usr/bin/python3 "$top/tests/fault/proxy.py" "$port" "$remote" "$1" &
	proxy_pid=$!
	at_exit "kill $proxy_pid 2>/dev/null"
	proxy=http://127.0.0.1:$port
	for i in $(seq 100); do
		curl -s -o /dev/null "$proxy/" && return 0
		sleep 0.05
	done
	fail "the proxy did not start"
}
stop_proxy() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; }

# clone MODE: a fresh workspace and cache that builds through the proxy in MODE.
clone() {
	rm -rf "$scratch/c" "$scratch/cache-$1"
	mkdir "$scratch/c"
	cp -r "$scratch/ws/Kilnfile" "$scratch/ws/data" "$scratch/c/"
	cd "$scratch/c"
	export KILN_CACHE_DIR=$scratch/cache-$1
	proxy "$1"
}
check() {
	diff -r "$scratch/want" kiln-out || fail "$1: the outputs are not the right ones"
	local o=$out
	ok kiln fsck
	has "0 bad"
	out=$o
}

# Every other request fails: retries get everything through, nothing runs.
clone flaky
ok kiln build --remote "$proxy"
ran 0
hasnt "warning"
check flaky
stop_proxy

# Every request fails: the build runs every step itself, and gives up on the remote early.
clone 500
start=$(date +%s)
ok kiln build --remote "$proxy"
ran 2
has "HTTP 500"
has "giving up on it"
[ $(($(date +%s) - start)) -lt 30 ] || fail "a failing remote slowed the build by more than 30s"
check 500
stop_proxy

# Bodies cut short: retried, then dropped; the steps run here.
clone truncate
ok kiln build --remote "$proxy"
ran 2
check truncate
[ -z "$(ls "$KILN_CACHE_DIR/tmp")" ] || fail "a partial download was left in tmp/"
stop_proxy

# Garbage of the right length: caught by the hash, dropped, counted, reported.
clone garbage
ok kiln build --remote "$proxy"
ran 2
has "does not match its digest"
has "bad blobs dropped"
has "building it here"
check garbage
[ -z "$(ls "$KILN_CACHE_DIR/quarantine")" ] || fail "bad bytes reached the local cache"
stop_proxy

# A server that stalls: KILN_REMOTE_TIMEOUT bounds the wait.
clone slow
start=$(date +%s)
KILN_REMOTE_TIMEOUT=1 ok kiln build --remote "$proxy"
check slow
[ $(($(date +%s) - start)) -lt 60 ] || fail "a stalling remote held the build for over a minute"
stop_proxy

# Ctrl-C while a slow download is under way: kiln stops at once, as it does
# while steps run, and leaves no partial blob behind.
clone slow
"$KILN_BIN" build --remote "$proxy" > "$scratch/int.log" 2>&1 &
kpid=$!
sleep 2
start=$(date +%s)
kill -INT $kpid
rc=0
wait $kpid || rc=$?
[ $rc -eq 130 ] || { cat "$scratch/int.log"; fail "expected exit 130 after SIGINT, got $rc"; }
[ $(($(date +%s) - start)) -lt 5 ] || fail "kiln took more than 5s to stop during a transfer"
[ -z "$(ls "$KILN_CACHE_DIR/tmp")" ] || fail "a partial download was left in tmp/"
[ ! -e kiln-out/sum ] || fail "an interrupted build installed outputs"
stop_proxy

# The same for kiln pull: it stops, says so, exits 130, keeps nothing partial.
clone slow
"$KILN_BIN" pull --remote "$proxy" > "$scratch/int.log" 2>&1 &
kpid=$!
sleep 2
start=$(date +%s)
kill -INT $kpid
rc=0
wait $kpid || rc=$?
[ $rc -eq 130 ] || { cat "$scratch/int.log"; fail "expected exit 130 from pull after SIGINT, got $rc"; }
[ $(($(date +%s) - start)) -lt 5 ] || fail "kiln pull took more than 5s to stop"
grep -q "pull interrupted" "$scratch/int.log" || fail "pull did not say it was interrupted"
[ -z "$(ls "$KILN_CACHE_DIR/tmp")" ] || fail "an interrupted pull left a partial download in tmp/"
stop_proxy
