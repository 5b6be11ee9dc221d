#!/bin/sh
# rewardstore-dask across hosts and under faults (issue #23).  Each worker
# is a "host" of its own: a mount namespace with a private /tmp (its
# TMPDIR), its own loopback address (127.0.0.2, 127.0.0.3), the inputs and
# the state seen only through one shared directory, and the client's
# working directory hidden.  Then the faults, each followed by a re-run
# whose OUT.csv is byte for byte one import's export: the client killed
# with kill -9 during the map and during the reduce; two drivers on one
# state at once; the state's file system full; an unreachable scheduler;
# the scheduler killed mid-job.  The test runs in a mount namespace of its
# own, so every mount it makes goes with it; the scheduler and workers are
# started here and stopped by pid.
if [ -z "${RS_HOSTS_NS:-}" ]; then
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "FAIL: cannot make a mount namespace (unshare -m needs root)" >&2
		echo "hosts: 0 passed, 1 failed"
		exit 1
	fi
	RS_HOSTS_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
# the test's files outside /tmp, which every host replaces with its own
TMPDIR=${top_builddir:-.}/tests
export TMPDIR
. "${top_srcdir:-.}/tests/lib.sh"

# and what the client and its private clusters write there (Dask's
# dask-worker-space) goes with the test's directory
TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

GEN="$top_builddir/tools/rewardstore-gen"
DASK="$top_srcdir/tools/rewardstore-dask"
PY=/usr/bin/python3
SH=$T/shared
C=$T/client
mkdir -p "$SH/marks" "$C" "$SH/small"
watchdog 900
# the small file system below is unmounted before the directory goes
unmount="umount $SH/small"

# ---- the data, and the references: one import each ----
"$GEN" --events 8000 --files 4 --seed 31 --bad-rate 0.01 --catalog "$SH/cat.csv" "$SH/ev" 2>/dev/null
"$GEN" --events 400 --files 1 --seed 32 "$SH/tiny" 2>/dev/null
IN="$SH/ev-0.jsonl $SH/ev-1.jsonl $SH/ev-2.jsonl $SH/ev-3.jsonl"
reference() { # reference OUT INPUT...
	out=$1
	shift
	rm -rf "$T/ref"
	rs --db "$T/ref" import -q "$@" 2>/dev/null
	rs --db "$T/ref" catalog "$SH/cat.csv" 2>/dev/null
	rs --db "$T/ref" export -o "$out"
}
# shellcheck disable=SC2086
reference "$T/ref4.csv" $IN
reference "$T/ref-tiny.csv" "$SH/tiny-0.jsonl"

# the program on the workers: rewardstore, leaving a mark of where it ran
# (its mount namespace, what it sees of the client's directory, its
# TMPDIR); slowed down while $SH/slow exists, with a mark per stage for
# the killers
cat > "$SH/prog" <<EOF
#!/bin/sh
{ readlink /proc/self/ns/mnt; ls -A "$C" | wc -l; echo "\$TMPDIR"; } > "$SH/marks/run.\$\$"
if [ -f "$SH/slow" ]; then
	for a in "\$@"; do
		case \$a in map|compact) : > "$SH/marks/\$a.\$\$"; sleep 1; break ;; esac
	done
fi
exec "$RS" "\$@"
EOF
chmod +x "$SH/prog"

# a small file system for the state, made before the hosts so that they
# share it (it is grown later by a remount, which they see too)
mount -t tmpfs -o size=400k tmpfs "$SH/small"
assert_status "a small file system for the full-disk test" 0 $?

# ---- the cluster: a scheduler on 127.0.0.1, a worker on each "host" ----
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR="tcp://127.0.0.1:$port"
dask-scheduler --host 127.0.0.1 --port "$port" --no-dashboard > "$T/scheduler.log" 2>&1 &
sched_pid=$!
pids="$pids $sched_pid"
# What a host must still see if it lies under /tmp, which each host
# replaces: the build (the program) and the sources, with this test's
# directory in them (the shared one; the client's is hidden again).  Kept
# through the new /tmp by a bind mount of a descriptor opened before it.
keep1="" keep2=""
for d in "$top_srcdir" "$top_builddir"; do
	d=$(cd "$d" && pwd -P)
	case $d in
	/tmp/*) if [ -z "$keep1" ]; then keep1=$d; else keep2=$d; fi ;;
	esac
done
for h in 2 3; do
	# a private /tmp, the client's directory hidden, then the worker
	# shellcheck disable=SC2016 # expanded by the host's shell
	unshare -m --propagation private env KEEP1="$keep1" KEEP2="$keep2" sh -c '
		{ [ -z "$KEEP1" ] || exec 3<"$KEEP1"; } && { [ -z "$KEEP2" ] || exec 4<"$KEEP2"; } &&
		mount -t tmpfs -o size=256m tmpfs /tmp &&
		{ [ -z "$KEEP1" ] || { mkdir -p "$KEEP1" && mount --no-canonicalize --rbind /proc/self/fd/3 "$KEEP1"; }; } &&
		{ [ -z "$KEEP2" ] || { mkdir -p "$KEEP2" && mount --no-canonicalize --rbind /proc/self/fd/4 "$KEEP2"; }; } &&
		exec 3<&- 4<&- &&
		mount -t tmpfs -o size=64k tmpfs "$1" && shift && exec env TMPDIR=/tmp "$@"' sh "$C" \
		dask-worker "$ADDR" --name "host$h" --nthreads 1 --no-nanny --host "127.0.0.$h" \
		--no-dashboard --death-timeout 60 --local-directory /tmp/dask > "$T/worker$h.log" 2>&1 &
	pids="$pids $!"
done
$PY - "$ADDR" > "$T/workers" 2> "$T/wait.err" <<'EOF'
import sys
from distributed import Client
c = Client(sys.argv[1], timeout=60)
c.wait_for_workers(2, timeout=90)
print(" ".join(sorted(w.split("//")[1].split(":")[0] for w in c.scheduler_info()["workers"])))
c.close()
EOF
assert_eq "two workers, on 127.0.0.2 and 127.0.0.3" "127.0.0.2 127.0.0.3" "$(cat "$T/workers")"

# job_exec STATE OUT [OPTIONS...] INPUT...: this shell becomes the client,
# in its own directory (job_exec ... & gives the client's pid); job runs
# it in a subshell
job_exec() {
	state=$1
	out=$2
	shift 2
	cd "$C" && exec $PY "$DASK" --scheduler "${SCHED:-$ADDR}" --program "$SH/prog" \
		--partitions 3 --catalog "$SH/cat.csv" --state "$state" -o "$out" "$@"
}
job() { (job_exec "$@"); }
wait_idle() { # until no task of a dead client runs on the workers
	i=0
	while pgrep -f "$SH/prog|$RS (map|compact)" >/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
wait_mark() { # wait_mark STAGE: until a task of STAGE started
	i=0
	while ! ls "$SH/marks/$1".* >/dev/null 2>&1 && [ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ls "$SH/marks/$1".* >/dev/null 2>&1
}
current() { cat "$1/CURRENT" 2>/dev/null; }

# ---- several hosts: the job, and where it ran ----
# shellcheck disable=SC2086
job "$SH/s1" out1.csv --split-bytes 400000 $IN 2> "$T/job1.err"
assert_status "the job across two hosts (lines were rejected)" 3 $?
assert_same_file "OUT.csv = one import's export" "$T/ref4.csv" "$C/out1.csv"
own=$(readlink /proc/self/ns/mnt)
cat "$SH"/marks/run.* | sed -n '1~3p' | sort -u | grep -vx "$own" > "$T/hosts"
assert_eq "tasks ran in two mount namespaces, neither the client's" 2 "$(wc -l < "$T/hosts")"
assert_eq "and none saw the client's directory" 0 "$(cat "$SH"/marks/run.* | sed -n '2~3p' | sort -u | tr -d ' \n')"
assert_eq "each with a TMPDIR in its own host's /tmp" "/tmp" \
	"$(cat "$SH"/marks/run.* | sed -n '3~3p' | sed 's|/rs-task-[^/]*$||' | sort -u)"
[ -z "$(ls "$C" | grep -v '^out1.csv$')" ]
assert_status "the client's directory holds OUT.csv alone" 0 $?
rm -f "$SH"/marks/run.*

# the parts as they are, for a parallel COPY
# shellcheck disable=SC2086
job "$SH/s1" parts/ $IN 2>/dev/null
assert_status "the same job again, -o DIR/" 0 $?
assert_grep "a manifest lists the parts" '"file": "part-2.csv"' "$C/parts/manifest.json"
{ cat "$C/parts/part-0.csv"; tail -n +2 "$C/parts/part-1.csv"; tail -n +2 "$C/parts/part-2.csv"; } > "$T/joined.csv"
assert_same_file "the parts, each with its header, joined = one import's export" "$T/ref4.csv" "$T/joined.csv"

# ---- the client killed with kill -9, in the map and in the reduce ----
for stage in map compact; do
	rm -rf "$SH/s-$stage"
	job "$SH/s-$stage" "out-$stage.csv" "$SH/tiny-0.jsonl" 2>/dev/null
	cp "$C/out-$stage.csv" "$T/out-$stage.before"
	before=$(current "$SH/s-$stage")
	: > "$SH/slow"
	rm -f "$SH"/marks/map.* "$SH"/marks/compact.*
	# shellcheck disable=SC2086
	job_exec "$SH/s-$stage" "out-$stage.csv" $IN 2>/dev/null &
	client=$!
	wait_mark "$stage"
	assert_status "a $stage task started" 0 $?
	kill -9 "$client"
	wait "$client" 2>/dev/null
	rm -f "$SH/slow"
	wait_idle
	assert_eq "client killed in the $stage stage: CURRENT unchanged" "$before" "$(current "$SH/s-$stage")"
	assert_same_file "client killed in the $stage stage: OUT unchanged" "$T/out-$stage.before" "$C/out-$stage.csv"
	ls -d "$SH/s-$stage"/jobs/g000002-* > "$T/dead" 2>/dev/null
	assert_eq "its half-written generation is there" 1 "$(wc -l < "$T/dead")"
	# shellcheck disable=SC2086
	job "$SH/s-$stage" "out-$stage.csv" $IN "$SH/tiny-0.jsonl" 2>/dev/null
	assert_status "the re-run after a client killed in the $stage stage" 3 $?
	reference "$T/ref5.csv" $IN "$SH/tiny-0.jsonl"
	assert_same_file "and its OUT.csv = one import's export" "$T/ref5.csv" "$C/out-$stage.csv"
	[ ! -e "$(cat "$T/dead")" ]
	assert_status "the dead job's files were removed by the re-run" 0 $?
done

# the same with a private cluster of the client's (local:2): its worker
# processes are the client's children, killed with it here
rm -rf "$SH/s-local"
SCHED=local:2 job "$SH/s-local" out-local.csv "$SH/tiny-0.jsonl" 2>/dev/null
cp "$C/out-local.csv" "$T/out-local.before"
before=$(current "$SH/s-local")
: > "$SH/slow"
rm -f "$SH"/marks/map.*
# shellcheck disable=SC2086
SCHED=local:2 job_exec "$SH/s-local" out-local.csv $IN 2>/dev/null &
client=$!
wait_mark map
descendants() { for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
family=$(descendants "$client")
kill -9 "$client"
wait "$client" 2>/dev/null
# shellcheck disable=SC2086
kill -9 $family 2>/dev/null
rm -f "$SH/slow"
wait_idle
assert_eq "local:2, client killed in the map stage: CURRENT unchanged" "$before" "$(current "$SH/s-local")"
assert_same_file "local:2: OUT unchanged" "$T/out-local.before" "$C/out-local.csv"
# shellcheck disable=SC2086
SCHED=local:2 job "$SH/s-local" out-local.csv $IN "$SH/tiny-0.jsonl" 2>/dev/null
assert_status "local:2: the re-run" 3 $?
assert_same_file "local:2: and its OUT.csv = one import's export" "$T/ref5.csv" "$C/out-local.csv"
[ -z "$(ls -d "$SH/s-local"/jobs/g000002-* 2>/dev/null | grep -v "$(sed -n 's|.*"\(jobs/g000002-[^/]*\)/.*|\1|p' "$SH/s-local/manifest-000002" | head -1)")" ]
assert_status "local:2: the dead job's files were removed by the re-run" 0 $?

# ---- two drivers on one state at once: exactly one commits ----
rm -rf "$SH/s2"
: > "$SH/slow"
job_exec "$SH/s2" a.csv "$SH/ev-0.jsonl" "$SH/ev-1.jsonl" 2> "$T/a.err" &
ja=$!
job_exec "$SH/s2" b.csv "$SH/ev-2.jsonl" "$SH/ev-3.jsonl" 2> "$T/b.err" &
jb=$!
wait "$ja"
sa=$?
wait "$jb"
sb=$?
rm -f "$SH/slow"
ok_count=0
for st in $sa $sb; do [ "$st" -eq 0 ] || [ "$st" -eq 3 ] && ok_count=$((ok_count + 1)); done
assert_eq "two drivers at once: exactly one commits ($sa, $sb)" 1 "$ok_count"
[ "$sa" -eq 1 ] || [ "$sb" -eq 1 ]
assert_status "the other exits 1" 0 $?
# the drivers' own lines (the inputs' rejects come before them)
grep -h '^rewardstore-dask' "$T/a.err" "$T/b.err" > "$T/ab.err"
assert_grep "and says why" "another job committed generation 1 of the state '.*s2' first" "$T/ab.err"
# shellcheck disable=SC2086
job "$SH/s2" all.csv $IN 2>/dev/null
assert_status "a re-run with every input" 3 $?
assert_same_file "nothing was lost: OUT.csv = one import's export" "$T/ref4.csv" "$C/all.csv"

# ---- the state's file system full ----
job "$SH/small/st" full.csv "$SH/tiny-0.jsonl" 2> "$T/small.err"
assert_status "a small job fits the small file system" 0 $?
before=$(current "$SH/small/st")
(cd "$SH/small/st" && find . -type f | sort | xargs sha256sum) > "$T/small.before"
cp "$C/full.csv" "$T/full.before"
# shellcheck disable=SC2086
job "$SH/small/st" full.csv $IN 2> "$T/full.err"
assert_status "the state's file system full" 1 $?
assert_grep "says so, naming the state" "state '$SH/small/st' and 'full.csv' are unchanged" "$T/full.err"
assert_grep "and why" "No space left on device" "$T/full.err"
(cd "$SH/small/st" && find . -type f | sort | xargs sha256sum) > "$T/small.after"
assert_same_file "the last good generation intact, no half-written one left" "$T/small.before" "$T/small.after"
assert_same_file "OUT unchanged" "$T/full.before" "$C/full.csv"
mount -o remount,size=64m "$SH/small"
# shellcheck disable=SC2086
job "$SH/small/st" full.csv $IN "$SH/tiny-0.jsonl" 2>/dev/null
assert_status "room again: the re-run" 3 $?
assert_same_file "and its OUT.csv = one import's export" "$T/ref5.csv" "$C/full.csv"

# ---- an unreachable scheduler: one line naming it ----
dead_port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=2s SCHED="tcp://127.0.0.1:$dead_port" \
	job "$SH/s3" x.csv "$SH/tiny-0.jsonl" 2> "$T/unreach.err"
assert_status "an unreachable scheduler" 1 $?
assert_eq "one line" 1 "$(wc -l < "$T/unreach.err")"
assert_grep "naming it" "^rewardstore-dask: error: cannot reach the scheduler 'tcp://127.0.0.1:$dead_port'" "$T/unreach.err"
[ ! -e "$SH/s3/CURRENT" ] && [ ! -e "$C/x.csv" ]
assert_status "nothing written" 0 $?

# ---- the scheduler killed mid-job (last: the cluster goes with it) ----
rm -rf "$SH/s4"
job "$SH/s4" s4.csv "$SH/tiny-0.jsonl" 2>/dev/null
before=$(current "$SH/s4")
cp "$C/s4.csv" "$T/s4.before"
: > "$SH/slow"
rm -f "$SH"/marks/map.*
# shellcheck disable=SC2086
job_exec "$SH/s4" s4.csv $IN 2> "$T/lost.err" &
client=$!
wait_mark map
kill -9 "$sched_pid"
wait "$client"
assert_status "the scheduler killed mid-job" 1 $?
rm -f "$SH/slow"
assert_grep "the driver names it" "lost the scheduler '$ADDR'" "$T/lost.err"
assert_no_grep "without a traceback" "Traceback" "$T/lost.err"
assert_eq "CURRENT unchanged" "$before" "$(current "$SH/s4")"
assert_same_file "OUT unchanged" "$T/s4.before" "$C/s4.csv"
wait_idle
# the re-run on a private cluster of the client's (the state is shared)
# shellcheck disable=SC2086
SCHED=local:2 job "$SH/s4" s4.csv $IN "$SH/tiny-0.jsonl" 2>/dev/null
assert_status "the re-run" 3 $?
assert_same_file "and its OUT.csv = one import's export" "$T/ref5.csv" "$C/s4.csv"

finish
