# kiln verify -S: the build made with overrides is verified with the same
# overrides, in the workspace and in the rebuild.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "m" { cmd = "echo {param.lr} > {out}/v", params = { lr = 1 }, outputs = { "v" } }
K
ok kiln build -S m.params.lr=2
same kiln-out/m/v "2"
fails 2 kiln verify
has "'m' is not built"
ok kiln verify -S m.params.lr=2
has "identical"
fails 2 kiln verify -S nosuch.x=1
has "-S nosuch.x=1: no target 'nosuch' in the Kilnfile"
