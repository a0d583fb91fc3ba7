# kill -9 during kiln pull leaves a partial tmp/remote.* file; whatever
# runs next on the cache (fsck, gc or pull) removes it, because the process
# its name names is gone. Files of live processes, and of other hosts (a
# cache on a shared file system), are kept until they are a day old.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
mkdir data
seq 1 3000 > data/n
cat > Kilnfile <<'K'
command "copy" { inputs = { n = "data/n" }, cmd = "cp {in.n} {out}/copy", outputs = { "copy" } }
K
ok kiln build --remote "$remote"
ran 1
port=$(free_port)
/usr/bin/python3 "$top/tests/fault/proxy.py" "$port" "$remote" slow &
proxy_pid=$!
at_exit "kill $proxy_pid 2>/dev/null"
proxy=http://127.0.0.1:$port
for i in $(seq 100); do curl -s -o /dev/null "$proxy/" && break; sleep 0.05; done

host=$(uname -n)
tmp() { ls "$KILN_CACHE_DIR/tmp" | grep "^remote\." || true; }

# killed_pull: a fresh cache, and a pull through the slow proxy killed with
# SIGKILL once its blob has started to arrive.
killed_pull() {
	rm -rf kiln-out "$scratch/cache"
	"$KILN_BIN" pull --remote "$proxy" > "$scratch/pull.log" 2>&1 &
	local kpid=$! i
	for i in $(seq 200); do
		[ -n "$(find "$KILN_CACHE_DIR/tmp" -name 'remote.*' -size +0 2>/dev/null)" ] && break
		sleep 0.05
	done
	kill -9 $kpid
	wait $kpid 2>/dev/null || true
	[ -n "$(tmp)" ] || { cat "$scratch/pull.log"; fail "the killed pull left no partial file to clean up"; }
	case $(tmp) in *".$kpid@$host") ;; *) fail "the temporary file does not name its pid and host: $(tmp)";; esac
}

killed_pull
# Others' files: a live process's (this shell's), another host's, and an
# old one without the pid@host form; only the old one is stale.
t=$KILN_CACHE_DIR/tmp
echo x > "$t/put.0.$$@$host"
echo x > "$t/put.0.1@elsewhere.example"
echo x > "$t/12345.0" && touch -d '2 days ago' "$t/12345.0"
ok kiln fsck
has "fsck: removed 2 temporary files left by processes that no longer run"
has "0 bad"
[ -z "$(tmp)" ] || fail "fsck left the killed pull's partial file: $(tmp)"
[ -e "$t/put.0.$$@$host" ] || fail "fsck removed a live process's temporary file"
[ -e "$t/put.0.1@elsewhere.example" ] || fail "fsck removed another host's recent temporary file"
[ ! -e "$t/12345.0" ] || fail "fsck kept a temporary file two days old"

killed_pull
ok kiln gc --max-size 1G
has "gc: removed 1 temporary files"
[ -z "$(tmp)" ] || fail "gc left the killed pull's partial file: $(tmp)"

killed_pull
ok kiln pull --remote "$remote"
[ -z "$(tmp)" ] || fail "the next pull left the killed pull's partial file: $(tmp)"
ok kiln build
has "1 restored from the cache"
cmp data/n kiln-out/copy/copy || fail "the pulled output is not the built one"
