#!/bin/sh
# rewardstore-dask on a real Dask cluster (issue #16): a dask-scheduler and
# three dask-worker processes on 127.0.0.1, started here and stopped by
# pid, also on failure.  The job's OUT.csv equals one import's export; so
# does a job in which one worker is killed with kill -9 during the map
# stage and another during the reduce stage; a state re-run that adds a
# file equals a full import; a re-run of the same inputs is a no-op; and a
# missing input fails with the state and the output unchanged.
. "${top_srcdir:-.}/tests/lib.sh"

GEN="$top_builddir/tools/rewardstore-gen"
DASK="$top_srcdir/tools/rewardstore-dask"
PY=/usr/bin/python3

if ! command -v dask-scheduler >/dev/null || ! command -v dask-worker >/dev/null; then
	not_ok "dask-scheduler and dask-worker are missing (tools/install-deps installs python3-distributed)"
	finish
	exit 1
fi

# ---- the cluster ----
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR="tcp://127.0.0.1:$port"
dask-scheduler --host 127.0.0.1 --port "$port" --no-dashboard > "$T/scheduler.log" 2>&1 &
pids="$pids $!"
worker_pids=""
for i in 1 2 3; do
	# its tasks' scratch (TMPDIR) in the test's directory: a worker killed
	# mid-task leaves it there, not in /tmp
	mkdir -p "$T/w$i"
	TMPDIR="$T/w$i" dask-worker "$ADDR" --name "w$i" --nthreads 1 --no-nanny --host 127.0.0.1 --no-dashboard \
		--death-timeout 60 --local-directory "$T/w$i" > "$T/worker$i.log" 2>&1 &
	pids="$pids $!"
	worker_pids="$worker_pids $!"
done
wait_workers() {
	$PY - "$ADDR" "$1" <<'EOF'
import sys
from distributed import Client
c = Client(sys.argv[1], timeout=60)
c.wait_for_workers(int(sys.argv[2]), timeout=90)
print(len(c.scheduler_info()["workers"]))
c.close()
EOF
}
assert_eq "a scheduler and three workers on 127.0.0.1" 3 "$(wait_workers 3 2>"$T/wait.err")"

# ---- the data and the reference ----
"$GEN" --events 8000 --files 4 --seed 21 --bad-rate 0.01 --catalog "$T/cat.csv" "$T/ev" 2>/dev/null
"$GEN" --events 3000 --files 1 --seed 22 --bad-rate 0.01 "$T/more" 2>/dev/null
IN="$T/ev-0.jsonl $T/ev-1.jsonl $T/ev-2.jsonl $T/ev-3.jsonl"
reference() { # reference OUT INPUT...
	out=$1
	shift
	rm -rf "$T/ref"
	rs --db "$T/ref" import -q --rejects "$out.rej" "$@" 2>/dev/null
	rs --db "$T/ref" catalog "$T/cat.csv" 2>/dev/null
	rs --db "$T/ref" export -o "$out"
	sort "$out.rej" > "$out.rej.s"
}
reference "$T/ref4.csv" $IN
# shellcheck disable=SC2086
reference "$T/ref5.csv" $IN "$T/more-0.jsonl"

job() { # job STATE OUT [--program P] ...: the client, on this machine
	state=$1
	out=$2
	shift 2
	$PY "$DASK" --scheduler "$ADDR" --program "$RS" --partitions 3 --catalog "$T/cat.csv" \
		--state "$state" -o "$out" "$@"
}

# ---- a job: byte ranges (a 300 KB split) and whole files ----
# shellcheck disable=SC2086
job "$T/s1" "$T/out1.csv" --rejects "$T/out1.rej" --split-bytes 300000 $IN 2> "$T/job1.err"
assert_status "the job, with rejected lines" 3 $?
assert_same_file "OUT.csv = one import's export" "$T/ref4.csv" "$T/out1.csv"
sort "$T/out1.rej" > "$T/out1.rej.s"
assert_same_file "the rejects, on the client" "$T/ref4.csv.rej.s" "$T/out1.rej.s"
assert_grep "messages name the file and the line (ranges' lines counted on)" \
	"^$T/ev-3.jsonl:[0-9]+: " "$T/job1.err"
# a range after the first has its lines numbered from the file's start
rs --db "$T/msg" import -q "$T/ev-3.jsonl" 2>&1 | grep -E "^$T/ev-3.jsonl:[0-9]+: " | sort > "$T/import.msg"
grep -E "^$T/ev-3.jsonl:[0-9]+: " "$T/job1.err" | sort > "$T/job.msg"
assert_same_file "the messages, as import says them" "$T/import.msg" "$T/job.msg"

# ---- the same with two workers killed: one in the map, one in the reduce ----
mkdir -p "$T/marks"
cat > "$T/slow" <<EOF
#!/bin/sh
# rewardstore, slowed down at each map and reduce, with a mark that names
# the worker process running it (the parent), for the test to kill
for a in "\$@"; do
	case \$a in
	map|compact) echo \$PPID > "$T/marks/\$a.\$\$"; sleep 1; break ;;
	esac
done
exec "$RS" "\$@"
EOF
chmod +x "$T/slow"
# shellcheck disable=SC2086
$PY "$DASK" --scheduler "$ADDR" --program "$T/slow" --partitions 3 --catalog "$T/cat.csv" \
	--state "$T/s2" -o "$T/out2.csv" --split-bytes 300000 $IN 2> "$T/job2.err" &
job_pid=$!
pids="$pids $job_pid"
# kill_one STAGE EXCEPT: kill -9 a live worker running STAGE, not EXCEPT
kill_one() {
	i=0
	while [ "$i" -lt 600 ]; do
		for f in "$T/marks/$1".*; do
			[ -f "$f" ] || continue
			w=$(cat "$f")
			case " $worker_pids " in *" $w "*) ;; *) continue ;; esac
			[ "$w" != "$2" ] && kill -0 "$w" 2>/dev/null && kill -9 "$w" && { echo "$w"; return 0; }
		done
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
killed_map=$(kill_one map none)
assert_status "a worker killed with kill -9 during the map stage" 0 $?
killed_reduce=$(kill_one compact "$killed_map")
assert_status "another killed during the reduce stage" 0 $?
wait "$job_pid"
assert_status "the job still finishes, with rejected lines" 3 $?
assert_same_file "two workers killed: OUT.csv = one import's export" "$T/ref4.csv" "$T/out2.csv"
kill -0 "$killed_map" 2>/dev/null || kill -0 "$killed_reduce" 2>/dev/null
assert_status "both workers are gone" 1 $?

# ---- the state: a re-run adds a file; the same inputs again are a no-op ----
# (one worker is left; the jobs run on it)
# shellcheck disable=SC2086
job "$T/s1" "$T/out3.csv" --split-bytes 300000 $IN "$T/more-0.jsonl" 2> "$T/job3.err"
assert_status "a re-run with one more file" 3 $?
assert_same_file "the state and one more file = a full import" "$T/ref5.csv" "$T/out3.csv"
assert_grep "the old files were not read again" "ev-0.jsonl +0 +0 +0 +0$" "$T/job3.err"
# shellcheck disable=SC2086
job "$T/s1" "$T/out4.csv" $IN "$T/more-0.jsonl" 2> "$T/job4.err"
assert_status "the same inputs again: nothing rejected this time" 0 $?
assert_same_file "the same inputs again: the same CSV" "$T/ref5.csv" "$T/out4.csv"
# again: OUT.csv is this generation's already, and is not copied again;
# changed behind the job's back, it is
stat -c '%i %Y %s' "$T/out4.csv" > "$T/out4.id"
sleep 1
# shellcheck disable=SC2086
job "$T/s1" "$T/out4.csv" $IN "$T/more-0.jsonl" 2> "$T/job4c.err"
assert_status "nothing new, OUT.csv as the last job wrote it" 0 $?
assert_grep "says it kept it" "is this generation's already: kept" "$T/job4c.err"
stat -c '%i %Y %s' "$T/out4.csv" > "$T/out4.id2"
assert_same_file "OUT.csv not written again" "$T/out4.id" "$T/out4.id2"
printf 'x' >> "$T/out4.csv"
# shellcheck disable=SC2086
job "$T/s1" "$T/out4.csv" $IN "$T/more-0.jsonl" 2> "$T/job4d.err"
assert_no_grep "OUT.csv changed since: written again" "already: kept" "$T/job4d.err"
assert_same_file "and right again" "$T/ref5.csv" "$T/out4.csv"

# ---- a changed catalog: every part exported again, no run rewritten ----
runs_before=$(sed -n 's/.*"run": "\([^"]*\)".*/\1/p' "$T/s1/$(cat "$T/s1/CURRENT")")
sed 's/,\([^,]*\)$/,\1 (renamed)/' "$T/cat.csv" | sed '1s/ (renamed)$//' > "$T/cat2.csv"
rm -rf "$T/ref"
# shellcheck disable=SC2086
rs --db "$T/ref" import -q $IN "$T/more-0.jsonl" 2>/dev/null
rs --db "$T/ref" catalog "$T/cat2.csv" 2>/dev/null
rs --db "$T/ref" export -o "$T/ref5b.csv"
# shellcheck disable=SC2086
$PY "$DASK" --scheduler "$ADDR" --program "$RS" --partitions 3 --catalog "$T/cat2.csv" \
	--state "$T/s1" -o "$T/out4b.csv" $IN "$T/more-0.jsonl" 2> "$T/job4b.err"
assert_status "the same inputs, another catalog" 0 $?
assert_same_file "another catalog: OUT.csv = one import's export with it" "$T/ref5b.csv" "$T/out4b.csv"
assert_grep "every partition exported again" "reduce: 3 of 3 partitions" "$T/job4b.err"
runs_after=$(sed -n 's/.*"run": "\([^"]*\)".*/\1/p' "$T/s1/$(cat "$T/s1/CURRENT")")
assert_eq "and no run folded or written again" "$runs_before" "$runs_after"
# shellcheck disable=SC2086
$PY "$DASK" --scheduler "$ADDR" --program "$RS" --partitions 3 --catalog "$T/cat.csv" \
	--state "$T/s1" -o "$T/out4.csv" $IN "$T/more-0.jsonl" 2>/dev/null
assert_same_file "the first catalog again: the first CSV" "$T/ref5.csv" "$T/out4.csv"

# ---- a missing input: an error, the state and the output unchanged ----
snapshot() { (cd "$T/s1" && find . -type f | sort | xargs sha256sum); }
snapshot > "$T/state.before"
cp "$T/out4.csv" "$T/out4.before"
# shellcheck disable=SC2086
job "$T/s1" "$T/out4.csv" $IN "$T/no-such.jsonl" 2> "$T/job5.err"
st=$?
[ "$st" -ne 0 ] && [ "$st" -ne 3 ]
assert_status "a missing input fails the job (status $st)" 0 $?
assert_grep "and says which" "no-such.jsonl" "$T/job5.err"
snapshot > "$T/state.after"
assert_same_file "the state is unchanged" "$T/state.before" "$T/state.after"
assert_same_file "the output is unchanged" "$T/out4.before" "$T/out4.csv"
# a state of another N is refused before anything runs
$PY "$DASK" --scheduler "$ADDR" --program "$RS" --partitions 2 --state "$T/s1" \
	-o "$T/x.csv" $IN 2> "$T/n.err"
assert_status "a state of another N" 2 $?
assert_grep "says so" "has 3 partitions, not 2" "$T/n.err"

finish
