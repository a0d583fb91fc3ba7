# A sweep made with a Lua loop: at -j4 the variants run side by side, the
# stage they share runs once, and running the sweep again restores it all.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "data" { cmd = "sleep 0.5; seq 100 > {out}/d", outputs = { "d" } }
for _, lr in ipairs({ 1, 2, 3, 4 }) do
  command("m_lr" .. lr) {
    inputs = { d = ":data" },
    cmd = [[date +%s.%N > {out}/t; sleep 1.5; date +%s.%N >> {out}/t; echo "{\"acc\": $(( $(wc -l < {in.d}/d) + {param.lr} ))}" > {out}/m.json]],
    outputs = { "m.json", "t" },
    params = { lr = lr },
    metrics = "m.json",
  }
end
K
ok kiln build -j4
ran 5
[ "$(printf '%s\n' "$out" | grep -c 'exec data$')" = 1 ] || fail "the shared stage ran more than once: $out"
# Side by side: the variants' start-end spans overlap (one after another, none would),
# however slow a loaded machine makes each start.
python3 - kiln-out/m_lr*/t <<'PY' || fail "the 4 variants at -j4 did not run side by side: $(cat kiln-out/m_lr*/t)"
import sys
spans = [tuple(map(float, open(p).read().split())) for p in sys.argv[1:]]
assert len(spans) == 4
overlaps = sum(1 for i, a in enumerate(spans) for b in spans[i + 1:] if a[0] < b[1] and b[0] < a[1])
sys.exit(0 if overlaps >= 3 else 1)
PY
ok kiln metrics
matches "^m_lr3 +acc +103$"
ok kiln clean
ok kiln build -j4
ran 0
has "5 restored from the cache"
# One variant changed: only it runs.
ok kiln build -j4 -S m_lr2.params.lr=20
ran 1
ok kiln exp show --sort=-acc
[ "$(printf '%s\n' "$out" | sed -n 2p | awk '{print $2}')" = m_lr2 ] || fail "best first: $out"
