# A declared environment variable is part of the key; an undeclared one is
# not, and does not reach the step.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "greet" {
  cmd = "echo ${GREETING:-unset} ${SECRET:-hidden} > {out}/g",
  outputs = { "g" },
  env = { "GREETING" },
}
command "fixed" {
  cmd = "echo $MODE > {out}/m",
  outputs = { "m" },
  env = { MODE = "fast" },
}
K
GREETING=hi SECRET=s3 ok kiln build
ran 2
same kiln-out/greet/g "hi hidden"
same kiln-out/fixed/m "fast"
GREETING=hi SECRET=other ok kiln build
has "nothing to do"
GREETING=hello ok kiln build
ran 1
same kiln-out/greet/g "hello hidden"
GREETING=hey ok kiln status
has "greet"
has "env GREETING changed"
GREETING=hey ok kiln why greet
has "env GREETING changed:"
# Unset differs from set.
ok kiln build
same kiln-out/greet/g "unset hidden"
