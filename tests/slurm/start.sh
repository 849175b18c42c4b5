#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (Debian/Ubuntu, as root, no systemd needed).
#
#   tests/slurm/start.sh [STATE_DIR] [FAKE_GPUS]
#
# Installs munge, slurmctld, slurmd and slurm-client with apt-get when they are missing, writes
# /etc/slurm/slurm.conf (job steps do not see SLURM_CONF, so the file must be at its default place),
# and starts munged, slurmctld and slurmd in the foreground as background processes whose PIDs are
# written to STATE_DIR/pids; tests/slurm/stop.sh STATE_DIR stops exactly those.
# FAKE_GPUS > 0 declares that many GPUs on the node (a count without devices), so that GPU
# requests (--gpus, --gres=gpu:N) can be scheduled and checked on a machine without GPUs.
#
# Exit status: 0 cluster up; 3 not root; 4 packages cannot be installed; 5 an /etc/slurm/slurm.conf
# not written by this script exists (refuse to overwrite a real cluster's config); 6 a daemon did
# not come up (its log is printed).
set -euo pipefail

STATE=${1:-/tmp/enformer-lite-slurm}
FAKE_GPUS=${2:-0}
CONF=/etc/slurm/slurm.conf
MARKER="# written by enformer-lite tests/slurm/start.sh"
CLUSTER=enformerlite

say() { echo "slurm-start: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "needs root (installs packages, writes $CONF, starts daemons)"; exit 3; }

missing=()
for tool in munged slurmctld slurmd sbatch squeue; do
    command -v "$tool" > /dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing munge slurmctld slurmd slurm-client (missing: ${missing[*]})"
    command -v apt-get > /dev/null || { say "no apt-get on this machine"; exit 4; }
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            munge slurmctld slurmd slurm-client; } > "/tmp/enformer-lite-slurm-apt.log" 2>&1; then
        tail -20 /tmp/enformer-lite-slurm-apt.log >&2
        say "apt-get failed (log: /tmp/enformer-lite-slurm-apt.log)"
        exit 4
    fi
fi

if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    say "$CONF exists and was not written by this script; not touching a real cluster's config"
    exit 5
fi

mkdir -p "$STATE/ctld" "$STATE/spool"
: > "$STATE/pids"

# munge: the key comes with the Debian package; make one if it is missing.
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
if munge -n 2> /dev/null | unmunge > /dev/null 2>&1; then
    say "munged already running; using it"
else
    # setsid (new session: Ctrl-C in the caller's terminal does not reach the daemons) and setpriv
    # both exec, so $! is munged's own PID.
    setsid setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground \
        > "$STATE/munged.log" 2>&1 &
    echo "munged $!" >> "$STATE/pids"
    for _ in $(seq 50); do
        munge -n 2> /dev/null | unmunge > /dev/null 2>&1 && break
        sleep 0.2
    done
    munge -n 2> /dev/null | unmunge > /dev/null 2>&1 || { cat "$STATE/munged.log" >&2; say "munged did not start"; exit 6; }
fi

# The node exactly as slurmd sees it (CPUs, sockets, RealMemory).
node_line=$(slurmd -C | head -1)
node=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<< "$node_line")
gres_conf=""
gres_node=""
if [ "$FAKE_GPUS" -gt 0 ]; then
    gres_conf="GresTypes=gpu"
    gres_node="Gres=gpu:$FAKE_GPUS"
    # slurmd counts GPUs by their device files; empty placeholder files stand in for them.
    files=()
    for ((i = 0; i < FAKE_GPUS; i++)); do
        : > "$STATE/fakegpu$i"
        files+=("$STATE/fakegpu$i")
    done
    printf '%s\nAutoDetect=off\nNodeName=%s Name=gpu File=%s\n' "$MARKER" "$node" \
        "$STATE/fakegpu[0-$((FAKE_GPUS - 1))]" > /etc/slurm/gres.conf
else
    rm -f /etc/slurm/gres.conf
fi

mkdir -p /etc/slurm
cat > "$CONF.tmp" << EOF
$MARKER
# Single-node test cluster; state and logs in $STATE.
ClusterName=$CLUSTER
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No cgroups in containers: track processes through /proc, bind tasks with sched_setaffinity.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# No slurmdbd: finished jobs are only visible to squeue while they are younger than MinJobAge,
# so the workflow's status command must be squeue and MinJobAge must outlast its polling interval.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
KillWait=10
MpiDefault=none
$gres_conf
$node_line $gres_node State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.tmp" "$CONF"

setsid /usr/sbin/slurmctld -D -c > "$STATE/slurmctld.out" 2>&1 &
echo "slurmctld $!" >> "$STATE/pids"
for _ in $(seq 50); do
    scontrol ping 2> /dev/null | grep -q UP && break
    sleep 0.2
done
scontrol ping 2> /dev/null | grep -q UP || { cat "$STATE/slurmctld.out" "$STATE/slurmctld.log" >&2 || true; say "slurmctld did not start"; exit 6; }

setsid /usr/sbin/slurmd -D > "$STATE/slurmd.out" 2>&1 &
echo "slurmd $!" >> "$STATE/pids"
state=""
for _ in $(seq 100); do
    state=$(sinfo -h -N -n "$node" -o %T 2> /dev/null || true)
    case "$state" in
        idle*|mixed*|allocated*) break ;;
        down*|drain*) scontrol update nodename="$node" state=resume 2> /dev/null || true ;;
    esac
    sleep 0.3
done
case "$state" in
    idle*|mixed*|allocated*) ;;
    *) cat "$STATE/slurmd.out" "$STATE/slurmd.log" >&2 || true; say "node $node is '$state', not idle"; exit 6 ;;
esac
say "cluster $CLUSTER up: node $node ($node_line${gres_node:+ $gres_node}), partition debug; state in $STATE"
