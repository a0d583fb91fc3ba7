# Sandbox: resources.disk limits what a step's output folder and /tmp hold
# together, while it runs (issue 16): a step that keeps writing files, each
# under the file size limit, is stopped with "disk limit 20M reached", in
# its output folder or in /tmp, and so is one that hides what it wrote in
# a folder it made unreadable. A step under the limit builds; the log's
# first line says the limit; KILN_SANDBOX_DISK sets the default; a bad
# size is refused with the Kilnfile's line.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	cat > hide.py <<'P'
import os, sys
h = sys.argv[1] + "/h"
os.mkdir(h)
f = open(h + "/f", "wb")
os.chmod(h, 0)
f.write(bytes([1]) * (30 << 20))
f.close()
P
	own_ws
	cat > Kilnfile <<'K'
command "fill" { cmd = "for i in $(seq 200); do head -c 1M /dev/zero > {out}/f$i || exit 1; sleep 0.01; done; echo > {out}/o", outputs = { "o" }, resources = { disk = "20M" } }
command "tmpfill" { cmd = "for i in $(seq 200); do head -c 1M /dev/zero > /tmp/f$i || exit 1; done; echo > {out}/o", outputs = { "o" }, resources = { disk = "20M", mem = "1G" } }
command "hide" { inputs = { s = "hide.py" }, cmd = "python3 {in.s} {out} && sleep 1 && echo > {out}/o", outputs = { "o" }, resources = { disk = "20M" } }
command "under" { cmd = "head -c 5M /dev/zero > {out}/o && head -c 5M /dev/zero > /tmp/t", outputs = { "o" }, resources = { disk = "20M" } }
command "dflt" { cmd = "for i in $(seq 100); do head -c 1M /dev/zero > {out}/f$i || exit 1; done; echo > {out}/o", outputs = { "o" } }
K
	ok kb build under
	out=$(log_of under)
	matches "^kiln: sandbox: limits: .*; disk 20M for its outputs and /tmp"
	hasnt "reached"

	fails 1 kb build fill
	matches "Kilnfile:1: target 'fill' failed: disk limit 20M reached: its output folder and /tmp held [0-9.]+ MiB when it was stopped"
	out=$(log_of fill)
	has "kiln: sandbox: disk limit 20M reached"
	[ ! -e kiln-out/fill/o ] || fail "the step went on past its disk limit"

	fails 1 kb build tmpfill
	has "target 'tmpfill' failed: disk limit 20M reached"

	# Every byte is written into a folder already made unreadable: only a
	# measure that looks through chmod 000 can see the limit reached.
	fails 1 kb build hide
	has "target 'hide' failed: disk limit 20M reached"

	KILN_SANDBOX_DISK=8M fails 1 kb build dflt
	has "target 'dflt' failed: disk limit 8M reached"
	chmod -R u+rwx .kiln 2>/dev/null || true

	cat > Kilnfile <<'K'
command "bad" { cmd = "true", outputs = { "o" },
  resources = { disk = "lots" } }
K
	fails 2 kb build bad
	has "Kilnfile:1: target 'bad': resources.disk: expected a size such as \"2G\" or \"512M\""
}
each_user scenario
