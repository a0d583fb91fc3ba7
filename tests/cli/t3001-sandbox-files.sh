# Sandbox: a step sees its declared inputs (read-only), its output folder and
# the system, and nothing else of the host: not the rest of the repository,
# not a home folder, not /etc/shadow; and it can write nowhere but its output
# folder. Each attempt fails the build, says why, and harms nothing.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	use_hostile
	mkdir -p data "$HOME/.ssh"
	echo declared > data/in.txt
	echo secret > notes.txt
	echo ssh-key > "$HOME/.ssh/id_rsa"
	chmod 644 "$HOME/.ssh/id_rsa"
	cat > Kilnfile <<K
command "fine" { inputs = { a = "data/in.txt" }, cmd = "cat {in.a} > {out}/o; echo scratch > /tmp/t; cat /tmp/t >> {out}/o", outputs = { "o" } }
command "repo_file" { inputs = { h = "bin/hostile" }, cmd = "{in.h} read notes.txt", outputs = { "o" } }
command "repo_abs" { inputs = { h = "bin/hostile" }, cmd = "{in.h} read $PWD/notes.txt", outputs = { "o" } }
command "home" { inputs = { h = "bin/hostile" }, cmd = "{in.h} read $HOME/.ssh/id_rsa", outputs = { "o" } }
command "shadow" { inputs = { h = "bin/hostile" }, cmd = "{in.h} read /etc/shadow", outputs = { "o" } }
command "look" { cmd = "ls -a / /etc /workspace > {out}/o; ls /root /home 2>&1 | tee -a {out}/o", outputs = { "o" } }
command "w_input" { inputs = { h = "bin/hostile", a = "data/in.txt" }, cmd = "{in.h} write {in.a}", outputs = { "o" } }
command "w_repo" { inputs = { h = "bin/hostile" }, cmd = "{in.h} write notes.txt", outputs = { "o" } }
command "w_new" { inputs = { h = "bin/hostile" }, cmd = "{in.h} write new.txt", outputs = { "o" } }
command "w_abs" { inputs = { h = "bin/hostile" }, cmd = "{in.h} write $PWD/data/in.txt", outputs = { "o" } }
command "w_usr" { inputs = { h = "bin/hostile" }, cmd = "{in.h} write /usr/kiln-harm", outputs = { "o" } }
command "w_etc" { inputs = { h = "bin/hostile" }, cmd = "{in.h} write /etc/passwd", outputs = { "o" } }
command "w_root" { inputs = { h = "bin/hostile" }, cmd = "{in.h} write /harm", outputs = { "o" } }
command "smuggle" { inputs = { k = "key" }, cmd = "cat {in.k} > {out}/o", outputs = { "o" } }
command "remount" { inputs = { h = "bin/hostile" }, cmd = "{in.h} remount", outputs = { "o" } }
K
	# What a step may do.
	ok kb build fine
	same kiln-out/fine/o "$(printf 'declared\nscratch')"
	ok kb build look
	grep -q "/root.*No such file or directory" kiln-out/look/o || fail "/root is visible: $(cat kiln-out/look/o)"
	[ "$(grep -c . kiln-out/look/o)" -gt 5 ] || fail "look listed nothing"
	! grep -q -e notes.txt -e shadow kiln-out/look/o || fail "undeclared files are visible: $(cat kiln-out/look/o)"
	grep -q '^in.txt$' kiln-out/look/o && fail "an input's neighbours are visible"

	# Reading what was not declared.
	for t in repo_file repo_abs home shadow; do
		fails 1 kb build $t
		has "target '$t' failed"
		has "read: refused (No such file or directory)"
		hasnt "ALLOWED"
	done

	# Writing anywhere but the output folder.
	for t in w_input w_repo w_new w_abs w_usr w_etc w_root; do
		fails 1 kb build $t
		has "target '$t' failed"
		has "write: refused ("
		hasnt "ALLOWED"
	done
	fails 1 kb build remount
	has "remount: refused (Operation not permitted)"
	has "kiln: sandbox: refused mount() by 'hostile'"

	# A declared input that is a symlink out of the repository is refused before anything runs.
	ln -s "$HOME/.ssh/id_rsa" key
	fails 2 kb build smuggle
	has "target 'smuggle': input 'k': key leads outside the workspace through a symbolic link"
	[ ! -e kiln-out/smuggle/o ] || fail "a symlink smuggled a host file in"

	# Nothing was harmed.
	same data/in.txt declared
	same notes.txt secret
	[ ! -e new.txt ] || fail "a step created new.txt in the repository"
	[ ! -e /usr/kiln-harm ] || fail "a step wrote into /usr"
	[ ! -e /harm ] || fail "a step wrote into /"
	[ ! -e /tmp/t ] || ! grep -q scratch /tmp/t || fail "a step's /tmp leaked to the host's"
	grep -q '^root:' /etc/passwd || fail "/etc/passwd was harmed"
}
each_user scenario
