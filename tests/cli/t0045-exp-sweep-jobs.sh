# A sweep made with a Lua loop: at -j4 the variants run side by side, the
# stage they share runs once, and running the sweep again restores it all.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "data" { cmd = "sleep 0.5; seq 100 > {out}/d", outputs = { "d" } }
for _, lr in ipairs({ 1, 2, 3, 4 }) do
  command("m_lr" .. lr) {
    inputs = { d = ":data" },
    cmd = [[sleep 1.5; echo "{\"acc\": $(( $(wc -l < {in.d}/d) + {param.lr} ))}" > {out}/m.json]],
    params = { lr = lr },
    metrics = "m.json",
  }
end
K
start=$(date +%s.%N)
ok kiln build -j4
end=$(date +%s.%N)
ran 5
[ "$(printf '%s\n' "$out" | grep -c 'exec data$')" = 1 ] || fail "the shared stage ran more than once: $out"
python3 -c 'import sys; s=float(sys.argv[2])-float(sys.argv[1]); sys.exit(0 if s < 4.5 else 1)' "$start" "$end" ||
	fail "4 variants of 1.5 s at -j4 took $(python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$start" "$end") s: not side by side"
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
