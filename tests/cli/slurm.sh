# A real single-node Slurm cluster for a test, in the scratch folder. Source
# it after lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/slurm.sh"
#	slurm_start
#
# slurm_start runs munged (its own key and socket), slurmctld and slurmd from
# Debian's slurm-wlm in the foreground, in the background of the test, with a
# generated slurm.conf on free loopback ports, and exports SLURM_CONF so srun,
# scontrol and scancel find it. The daemons are stopped by process id when
# the script ends. A machine without Slurm skips the test (exit 0 with a
# note), unless KILN_REQUIRE_SLURM=1.

slurm_dir=$scratch/slurm

# slurm_skip_unless_installed: exit the test when Slurm or munge is missing.
slurm_skip_unless_installed() {
	local p
	for p in munged slurmctld slurmd srun scontrol scancel; do
		if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
			[ "${KILN_REQUIRE_SLURM:-0}" = 1 ] && fail "$p is not installed (bootstrap.sh installs slurm-wlm and munge)"
			echo "skipped: $p is not installed"
			exit 0
		fi
	done
	[ "$(id -u)" -eq 0 ] || { echo "skipped: slurmd must run as root"; exit 0; }
}

# slurm_wait_for DESC CMD…: retry CMD for up to 30 seconds.
slurm_wait_for() {
	local desc=$1 i
	shift
	for i in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	for i in "$slurm_dir"/*.log; do echo "== $i"; tail -20 "$i"; done >&2
	fail "$desc did not come up in 30 seconds"
}

# slurm_munge_start: munged with its own key and socket.
slurm_munge_start() {
	mkdir -p "$slurm_dir/munge"
	chmod 700 "$slurm_dir/munge"
	dd if=/dev/urandom of="$slurm_dir/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$slurm_dir/munge/munge.key"
	/usr/sbin/munged -F --force --key-file="$slurm_dir/munge/munge.key" \
		--socket="$slurm_dir/munge/munge.socket" --pid-file="$slurm_dir/munge/munged.pid" \
		--log-file="$slurm_dir/munge.log" --seed-file="$slurm_dir/munge/munged.seed" \
		>>"$slurm_dir/munge.log" 2>&1 &
	slurm_munged_pid=$!
	slurm_wait_for munged test -S "$slurm_dir/munge/munge.socket"
}

# slurm_write_conf: slurm.conf for one node with this machine's CPUs and memory.
slurm_write_conf() {
	local cpus mem
	cpus=$(nproc)
	mem=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024 - 256))
	slurm_ctld_port=$(free_port)
	slurm_d_port=$(free_port)
	mkdir -p "$slurm_dir/state" "$slurm_dir/spool"
	cat >"$slurm_dir/slurm.conf" <<EOF
ClusterName=kilntest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$slurm_ctld_port
SlurmdPort=$slurm_d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$slurm_dir/munge/munge.socket
StateSaveLocation=$slurm_dir/state
SlurmdSpoolDir=$slurm_dir/spool
SlurmctldPidFile=$slurm_dir/slurmctld.pid
SlurmdPidFile=$slurm_dir/slurmd.pid
SlurmctldLogFile=$slurm_dir/slurmctld.log
SlurmdLogFile=$slurm_dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=100
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
KillWait=2
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=10
SlurmdTimeout=${slurm_slurmd_timeout:-30}
MessageTimeout=5
GresTypes=gpu
NodeName=kiln1 NodeAddr=127.0.0.1 NodeHostname=kiln1 CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=kiln Nodes=kiln1 Default=YES MaxTime=INFINITE State=UP
EOF
	# Two "GPUs" that are character devices every machine has, so that
	# resources.gpus can be mapped and checked without a GPU.
	printf '%s\n' AutoDetect=off "NodeName=kiln1 Name=gpu File=/dev/null" \
		"NodeName=kiln1 Name=gpu File=/dev/zero" >"$slurm_dir/gres.conf"
	export SLURM_CONF=$slurm_dir/slurm.conf
}

# slurm_ctld_start: slurmctld in the foreground (-D), keeping its saved state.
slurm_ctld_start() {
	/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >>"$slurm_dir/slurmctld.out" 2>&1 &
	slurm_ctld_pid=$!
	slurm_wait_for slurmctld scontrol ping
}

# slurm_ctld_stop: stop slurmctld (by its process id) and wait for it.
slurm_ctld_stop() {
	[ -n "${slurm_ctld_pid:-}" ] || return 0
	kill "$slurm_ctld_pid" 2>/dev/null || true
	wait "$slurm_ctld_pid" 2>/dev/null || true
	slurm_ctld_pid=
}

# slurm_run_slurmd CMD…: how slurmd is started (it must exec, keeping its
# pid); a test redefines it to give the node a different view of the files.
slurm_run_slurmd() { exec "$@"; }

# slurm_start: munged, slurmctld and slurmd; returns when the node takes jobs.
slurm_start() {
	slurm_skip_unless_installed
	at_exit slurm_stop
	slurm_munge_start
	slurm_write_conf
	slurm_ctld_start
	slurm_d_start
}

# slurm_d_start: slurmd in the foreground; returns when the node takes jobs.
slurm_d_start() {
	slurm_run_slurmd /usr/sbin/slurmd -D -N kiln1 -f "$SLURM_CONF" >>"$slurm_dir/slurmd.out" 2>&1 &
	slurm_d_pid=$!
	slurm_wait_for "the node" slurm_node_idle
}

# slurm_stepds: the process ids of this cluster's slurmstepd processes,
# found by the SLURM_CONF slurmd gave them.
slurm_stepds() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
		grep -qzx "SLURM_CONF=$SLURM_CONF" "$p/environ" 2>/dev/null && echo "${p#/proc/}"
	done
	return 0
}

# slurm_job_tasks: the process ids of the programs this cluster's jobs run
# (what slurmstepd started: they have SLURM_JOB_ID, and this SLURM_CONF).
slurm_job_tasks() {
	local p
	for p in /proc/[0-9]*; do
		grep -qzx "SLURM_CONF=$SLURM_CONF" "$p/environ" 2>/dev/null &&
			grep -qz "^SLURM_JOB_ID=" "$p/environ" 2>/dev/null && echo "${p#/proc/}"
	done
	return 0
}

# slurm_node_crash: the node dies as a machine does: slurmd, every
# slurmstepd and what the jobs run, killed at once.
slurm_node_crash() {
	kill -9 "$slurm_d_pid" $(slurm_stepds) $(slurm_job_tasks) 2>/dev/null || true
	{ wait "$slurm_d_pid"; } 2>/dev/null || true
	slurm_d_pid=
}

# slurm_stop: every daemon of this cluster, by process id, in order.
slurm_stop() {
	local p
	# First what the test left running in the background (a kiln, when it
	# failed), while slurmctld is there to cancel its jobs.
	for p in $(jobs -p); do
		case " ${slurm_munged_pid:-} ${slurm_ctld_pid:-} ${slurm_d_pid:-} " in
		*" $p "*) ;;
		*) kill "$p" 2>/dev/null && { wait "$p"; } 2>/dev/null ;;
		esac
	done
	[ -n "${slurm_d_pid:-}" ] && { kill "$slurm_d_pid"; wait "$slurm_d_pid" || true; }
	slurm_ctld_stop
	# A step whose end slurmctld never heard of keeps its slurmstepd.
	for p in $(slurm_stepds); do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${slurm_munged_pid:-}" ] && { kill "$slurm_munged_pid"; wait "$slurm_munged_pid" || true; }
	return 0
}

slurm_node_idle() {
	sinfo -h -o %t -n kiln1 | grep -qx idle
}

# slurm_logs: the daemons' logs, for a failing test.
slurm_logs() {
	local f
	for f in "$slurm_dir"/*.log; do echo "== $f"; tail -30 "$f"; done
}
