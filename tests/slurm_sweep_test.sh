#!/usr/bin/env bash
# `spinval sweep --slurm` end to end on a real single-node Slurm cluster (scripts/slurm-local):
# the generated job array runs a 2 x 2 sweep; one task is cancelled with scancel while it waits
# and resubmitted with submit.sh; a collect run before that names the missing point and writes
# nothing; the collect job's sweep.csv and sweep.json equal a local sweep's byte for byte, as
# do those of the same sweep run with two shards per point.
#
#   tests/slurm_sweep_test.sh SPINVAL_BINARY SOURCE_DIR
#
# Exits 77 (ctest SKIP_RETURN_CODE), with a loud message, only when the cluster cannot start.
# The daemons it started are stopped on every exit, by the process ids slurm-local recorded.
set -euo pipefail

[ $# -eq 2 ] || {
  echo "usage: $0 SPINVAL_BINARY SOURCE_DIR" >&2
  exit 2
}
spinval=$1
source=$2
slurm_local=$source/scripts/slurm-local
sweep_file=$source/tests/data/sweeps/small-grid.yaml
readonly kTimeout=90 # seconds for each wait on the cluster

work=$(mktemp -d "${TMPDIR:-/tmp}/spinval-slurm-test.XXXXXX")
cluster=$work/cluster
cleanup() {
  local status=$?
  "$slurm_local" stop "$cluster" >/dev/null 2>&1 || true
  if [ $status -eq 0 ] || [ $status -eq 77 ]; then
    rm -rf "$work"
  else
    echo "slurm test: FAILED; files kept in $work (cluster logs in $cluster)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "slurm test: FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

# Waits until `$@` succeeds, for at most kTimeout seconds.
wait_for() {
  local what=$1
  shift
  for _ in $(seq $((kTimeout * 5))); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  squeue >&2 || true
  fail "timed out after ${kTimeout} s waiting for $what"
}

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
job_reason() { squeue -h -j "$1" -o %r 2>/dev/null || true; }
queued() { [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; }
not_queued() { ! queued "$1"; }
has_reason() { [ "$(job_reason "$1")" = "$2" ]; }
job_ended() {
  case $(job_state "$1") in
  PENDING | RUNNING | CONFIGURING | COMPLETING | REQUEUED | RESIZING | SUSPENDED | "") return 1 ;;
  *) return 0 ;;
  esac
}
job_id() { awk -v kind="$1" '$1 == kind { id = $2 } END { print id }' "$out/slurm/jobs"; }

step "starting a single-node Slurm cluster (scripts/slurm-local)"
status=0
"$slurm_local" start "$cluster" || status=$?
if [ $status -eq 77 ]; then
  echo "########################################################################" >&2
  echo "# SKIPPED: Slurm cannot start on this machine (see the messages above), #" >&2
  echo "# so the Slurm sweep test did not run.                                  #" >&2
  echo "########################################################################" >&2
  exit 77
fi
[ $status -eq 0 ] || fail "scripts/slurm-local start exited $status"
export SLURM_CONF=$cluster/slurm.conf

step "the reference: a local sweep"
"$spinval" sweep "$sweep_file" --out "$work/local" --threads 2 --quiet >/dev/null

step "writing the Slurm scripts (relative paths; the scripts must hold absolute ones)"
cd "$work"
relative_sweep=$(realpath --relative-to="$work" "$sweep_file")
out=$work/out
"$spinval" sweep "$relative_sweep" --slurm --array-limit 1 --out out >"$work/slurm.txt"
cat "$work/slurm.txt"
grep -q "^  '$out/slurm/submit.sh'\$" "$work/slurm.txt" || fail "no submit command printed"
grep -q "^#SBATCH --array=1-4%1\$" "$out/slurm/array.sh" || fail "array line in array.sh"
grep -q "^exec '$(realpath "$spinval")' sweep '$sweep_file' --out '$out' --task" \
  "$out/slurm/array.sh" || fail "array.sh does not run this spinval with absolute paths"

step "submitting, then cancelling task 4 while it waits behind the array limit"
"$out/slurm/submit.sh"
array=$(job_id array)
collect=$(job_id collect)
[ -n "$array" ] || fail "submit.sh recorded no array job id"
[ -n "$collect" ] || fail "submit.sh recorded no collect job id"
state=$(squeue -h -j "${array}_4" -o %T 2>/dev/null || true)
case $state in
PENDING | RUNNING) ;;
*) fail "task ${array}_4 is '$state', not pending or running, before the scancel" ;;
esac
scancel "${array}_4"
wait_for "tasks 1-3 of job $array" not_queued "$array"
wait_for "collect job $collect to be blocked" has_reason "$collect" DependencyNeverSatisfied
for t in 1 2 3; do
  [ -f "$out/points/$t.json" ] || fail "task $t stored no point"
  cp "$out/points/$t.json" "$work/point-$t.json"
done
[ ! -e "$out/points/4.json" ] || fail "the cancelled task stored its point"

step "collecting before every task is done: names the missing point, writes nothing"
status=0
"$spinval" sweep "$sweep_file" --collect --out "$out" >"$work/collect.out" 2>"$work/collect.err" ||
  status=$?
cat "$work/collect.err"
[ $status -eq 3 ] || fail "an incomplete collect exited $status, expected 3"
grep -q "^point 4/4 cost.advantage=0.45 peers.long_run_ev_sales=12: missing\$" \
  "$work/collect.err" || fail "the incomplete collect does not name point 4"
grep -q "submit.sh' 4\$" "$work/collect.err" || fail "no resubmit command for task 4"
[ ! -e "$out/sweep.csv" ] || fail "an incomplete collect wrote sweep.csv"
[ ! -e "$out/sweep.json" ] || fail "an incomplete collect wrote sweep.json"

step "resubmitting task 4 (sbatch --array=4 of array.sh, through submit.sh 4)"
"$out/slurm/submit.sh" 4
array2=$(job_id array)
collect2=$(job_id collect)
[ "$array2" != "$array" ] || fail "task 4 was not resubmitted"
[ "$collect2" != "$collect" ] || fail "no new collect job was submitted"
wait_for "collect job $collect2" job_ended "$collect2"
[ "$(job_state "$collect2")" = COMPLETED ] ||
  fail "collect job $collect2 ended $(job_state "$collect2"); log: $(cat "$out"/logs/collect-"$collect2".out)"
[ "$(job_state "$collect")" = CANCELLED ] || fail "the blocked collect job $collect was not cancelled"
grep -q "point 4/4 .*: ev_usd mean" "$out/logs/task-${array2}_4.out" ||
  fail "the resubmitted task did not compute point 4"

step "checking the collected results against the local sweep"
for t in 1 2 3; do
  cmp -s "$out/points/$t.json" "$work/point-$t.json" || fail "point $t was recomputed"
done
cmp "$out/sweep.csv" "$work/local/sweep.csv" || fail "sweep.csv differs from the local sweep's"
cmp "$out/sweep.json" "$work/local/sweep.json" || fail "sweep.json differs from the local sweep's"

step "a sharded sweep: two array tasks per point, each a shard, merged by the point's last"
sharded=$work/sharded
"$spinval" sweep "$sweep_file" --slurm --shards-per-point 2 --out "$sharded" >/dev/null
grep -q "^#SBATCH --array=1-8\$" "$sharded/slurm/array.sh" || fail "array line of the sharded sweep"
"$sharded/slurm/submit.sh"
collect3=$(awk '$1 == "collect" { id = $2 } END { print id }' "$sharded/slurm/jobs")
wait_for "collect job $collect3" job_ended "$collect3"
[ "$(job_state "$collect3")" = COMPLETED ] ||
  fail "collect job $collect3 ended $(job_state "$collect3"); log: $(cat "$sharded"/logs/collect-"$collect3".out)"
cmp "$sharded/sweep.csv" "$work/local/sweep.csv" || fail "the sharded sweep.csv differs"
cmp "$sharded/sweep.json" "$work/local/sweep.json" || fail "the sharded sweep.json differs"

step "stopping the cluster"
"$slurm_local" stop "$cluster"
echo "slurm test: PASS"
