#!/usr/bin/env bash
# local-slurm.sh start|stop|env DIR: a real one-node Slurm on this machine, all of it in DIR, to
# try the study's batch scripts on (study.sbatch shows the commands) and for slurm_test.go:
#
#	eval "$(experiments/cluster/slurm/local-slurm.sh start /tmp/slurm)"   # sets SLURM_CONF
#	...                                                                    # sbatch, squeue, ...
#	experiments/cluster/slurm/local-slurm.sh stop /tmp/slurm
#
# start writes DIR/slurm.conf and a new MUNGE key, starts munged (its socket in DIR/munge), the
# controller slurmctld and the node daemon slurmd (this machine as slurmd -C describes it, as
# node "$(hostname -s)" at 127.0.0.1, in one partition "local"), waits until the node takes jobs,
# and prints the line that points Slurm's commands at this cluster (export
# SLURM_CONF=DIR/slurm.conf). The daemons' logs are DIR/*.log; DIR/jobcomp.log has a line for
# each job that ended. stop cancels the cluster's jobs and stops the daemons start started (by
# their pid files in DIR); env prints the export line again.
#
# Needs Debian's slurm-wlm (22.05) and munge: apt-get install -y slurm-wlm munge. It is made for
# a container without systemd or usable cgroups: processes are tracked through /proc
# (proctrack/linuxproc), tasks are not bound or confined (task/none), nothing is accounted
# (jobacct_gather/none, accounting_storage/none), and the daemons run as the calling user (root,
# as in CI; as another user it is untried). Ports: SLURMCTLD_PORT (6817) and SLURMD_PORT (6818)
# when set.
set -euo pipefail

me=local-slurm
usage() {
	echo "usage: $0 start|stop|env DIR" >&2
	exit 2
}
fail() {
	echo "$me: $*" >&2
	exit 1
}

[[ $# -eq 2 ]] || usage
action=$1
case $action in start | stop | env) ;; *) usage ;; esac
[[ $action == start ]] && mkdir -p "$2"
[[ -d $2 ]] || fail "$2 is not a directory (nothing was started there)"
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf

# alive PIDFILE NAME: the pid in PIDFILE, when that process is running and is NAME (a pid file
# left by a daemon that died may name another process by now).
alive() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$2" ]] || return 1
	echo "$pid"
}

# dead PIDFILE NAME: the daemon wrote its pid file and has ended since.
dead() {
	[[ -s $1 ]] && ! alive "$1" "$2" >/dev/null
}

# stop_daemon PIDFILE NAME: TERM, then KILL after 10 s.
stop_daemon() {
	local pid i
	pid=$(alive "$1" "$2") || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		[[ -d /proc/$pid ]] || { rm -f "$1"; return 0; }
		sleep 0.1
	done
	echo "$me: $2 (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$1"
}

# abort MESSAGE: a start that failed shows the end of each daemon's log, stops what it started
# and fails.
abort() {
	local f
	for f in "$dir"/munge/munged.log "$dir"/slurmctld.log "$dir"/slurmd.log; do
		if [[ -f $f ]]; then
			echo "--- $f (end)"
			tail -n 15 "$f"
		fi
	done >&2
	stop 2>/dev/null || true
	fail "$@"
}

start() {
	local c
	for c in munged mungekey slurmctld slurmd sinfo; do
		command -v "$c" >/dev/null ||
			fail "$c not found: install Debian's slurm-wlm and munge (apt-get install -y slurm-wlm munge)"
	done
	if alive "$dir/slurmctld.pid" slurmctld >/dev/null; then
		fail "a Slurm is already running in $dir: stop it first ($0 stop $dir)"
	fi
	local user host hw ctld_port=${SLURMCTLD_PORT:-6817} d_port=${SLURMD_PORT:-6818}
	user=$(id -un)
	host=$(hostname -s)
	# This machine as slurmd sees it: CPUs, sockets, cores, threads and RealMemory (for --mem).
	hw=$(slurmd -C | head -n 1)
	hw=${hw#NodeName=* }

	# MUNGE authenticates every message between Slurm's commands and daemons; this cluster has
	# its own key and socket, so it works next to (and without touching) a system's munged.
	mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
	chmod 755 "$dir/munge" # the socket is for every user; the key (0600) is munged's alone
	rm -f "$dir/munge/munge.key"
	mungekey --create --keyfile="$dir/munge/munge.key"
	# --force: run even when a directory above DIR looks insecure to munged (group-writable).
	munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
		--pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
		--seed-file="$dir/munge/munged.seed" ||
		abort "munged did not start (log: $dir/munge/munged.log)"

	cat >"$conf" <<EOF
# A one-node Slurm written by $0 (see there).
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# No systemd and no cgroups to rely on: /proc tracks a job's processes, nothing binds or
# confines tasks, nothing is accounted.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
# Each finished job (each element of an array) is one line of DIR/jobcomp.log, with its state and
# exit code; squeue forgets it 4 s after it ends, so that sbatch --wait polls every 2 s (it polls
# every 2, 8, then 32 s when MinJobAge allows).
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
MinJobAge=4
# Cores are the consumable resource, so that --cpus-per-task=1 runs one task per core.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The node takes jobs as soon as it registers, and is never drained for differing from slurmd -C.
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

	slurmctld -f "$conf" || abort "slurmctld did not start (log: $dir/slurmctld.log)"
	slurmd -f "$conf" || abort "slurmd did not start (log: $dir/slurmd.log)"

	local state="" deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)); do
		! dead "$dir/slurmctld.pid" slurmctld || abort "slurmctld stopped (log: $dir/slurmctld.log)"
		! dead "$dir/slurmd.pid" slurmd || abort "slurmd stopped (log: $dir/slurmd.log)"
		state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null || true)
		[[ $state == idle ]] && break
		sleep 0.1
	done
	[[ $state == idle ]] || abort "node $host is not idle after 30 s (sinfo says ${state:-nothing})"
	echo "$me: slurmctld and slurmd running, node $host idle ($hw); logs in $dir" >&2
	echo "export SLURM_CONF=$conf"
}

stop() {
	local i
	if alive "$dir/slurmctld.pid" slurmctld >/dev/null; then
		# A job's processes belong to its slurmstepd, which outlives slurmd: end the jobs first.
		timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			[[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
			sleep 0.1
		done
	fi
	stop_daemon "$dir/slurmd.pid" slurmd
	stop_daemon "$dir/slurmctld.pid" slurmctld
	stop_daemon "$dir/munge/munged.pid" munged
	echo "$me: stopped the Slurm of $dir" >&2
}

case $action in
start) start ;;
stop) stop ;;
env) echo "export SLURM_CONF=$conf" ;;
esac
