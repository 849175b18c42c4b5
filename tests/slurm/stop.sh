#!/usr/bin/env bash
# Stop the cluster started by tests/slurm/start.sh STATE_DIR: cancel its jobs, then stop the
# daemons whose PIDs start.sh recorded in STATE_DIR/pids (only those), and remove the config files
# start.sh wrote. Logs stay in STATE_DIR.
#
#   tests/slurm/stop.sh [STATE_DIR]
set -uo pipefail

STATE=${1:-/tmp/enformer-lite-slurm}
MARKER="# written by enformer-lite tests/slurm/start.sh"
say() { echo "slurm-stop: $*" >&2; }

[ -f "$STATE/pids" ] || { say "no $STATE/pids; nothing to stop"; exit 0; }

# Jobs first, so that no job step outlives its slurmd. The whole cluster is ours.
if scontrol ping 2> /dev/null | grep -q UP; then
    jobs=$(squeue -h -o %i 2> /dev/null || true)
    if [ -n "$jobs" ]; then
        say "cancelling jobs: $(tr '\n' ' ' <<< "$jobs")"
        # shellcheck disable=SC2086
        scancel $jobs 2> /dev/null || true
        for _ in $(seq 60); do
            [ -z "$(squeue -h -o %i -t PD,R,CG,S 2> /dev/null)" ] && break
            sleep 0.5
        done
    fi
fi

# Daemons in reverse start order: slurmd, slurmctld, munged.
tac "$STATE/pids" | while read -r name pid; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2> /dev/null; then
        kill -TERM "$pid" 2> /dev/null
        for _ in $(seq 50); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2> /dev/null; then
            say "$name ($pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2> /dev/null
        fi
    fi
    say "stopped $name ($pid)"
done
rm -f "$STATE/pids"

for file in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    if [ -f "$file" ] && grep -qF "$MARKER" "$file"; then
        rm -f "$file"
    fi
done
