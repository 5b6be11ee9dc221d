#!/bin/sh
# rewardstore-dask over TLS (issue #23): a CA and certificates made here
# with openssl; a tls:// scheduler and a worker on 127.0.0.1 that require
# them, started here and stopped by pid.  A job with --tls-ca-file,
# --tls-cert and --tls-key gives one import's bytes; so does one with
# Dask's own configuration instead (DASK_DISTRIBUTED__COMM__TLS__*); a
# driver without a certificate, or with one of another CA, is refused
# (exit 1, one line naming the scheduler, OUT and the state untouched).
. "${top_srcdir:-.}/tests/lib.sh"

GEN="$top_builddir/tools/rewardstore-gen"
DASK="$top_srcdir/tools/rewardstore-dask"
PY=/usr/bin/python3
watchdog 600
command -v openssl >/dev/null || { not_ok "openssl is missing"; finish; exit 1; }

# ---- a CA, and certificates for the scheduler, the worker, the client;
# and a client certificate of another CA ----
P=$T/pki
mkdir -p "$P"
printf 'subjectAltName=IP:127.0.0.1\n' > "$P/ext"
ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null; }
cert() { # cert NAME CA
	openssl req -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
		openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" -CAcreateserial \
			-out "$P/$1.pem" -days 2 -extfile "$P/ext" 2>/dev/null
}
ca ca && ca other-ca && cert scheduler ca && cert worker ca && cert client ca && cert stranger other-ca
assert_status "a CA and certificates made with openssl" 0 $?

# ---- the cluster, TLS only ----
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR="tls://127.0.0.1:$port"
dask-scheduler --protocol tls --host 127.0.0.1 --port "$port" --no-dashboard \
	--tls-ca-file "$P/ca.pem" --tls-cert "$P/scheduler.pem" --tls-key "$P/scheduler.key" \
	> "$T/scheduler.log" 2>&1 &
pids="$pids $!"
mkdir -p "$T/w"
TMPDIR="$T/w" dask-worker "$ADDR" --nthreads 1 --no-nanny --host 127.0.0.1 --no-dashboard \
	--tls-ca-file "$P/ca.pem" --tls-cert "$P/worker.pem" --tls-key "$P/worker.key" \
	--local-directory "$T/w" > "$T/worker.log" 2>&1 &
pids="$pids $!"
$PY - "$ADDR" "$P" > "$T/workers" 2> "$T/wait.err" <<'EOF'
import sys
from distributed import Client
from distributed.security import Security
p = sys.argv[2]
sec = Security(tls_ca_file=p + "/ca.pem", tls_client_cert=p + "/client.pem",
               tls_client_key=p + "/client.key", require_encryption=True)
c = Client(sys.argv[1], security=sec, timeout=60)
c.wait_for_workers(1, timeout=90)
print(len(c.scheduler_info()["workers"]))
c.close()
EOF
assert_eq "a TLS scheduler and a worker" 1 "$(cat "$T/workers")"

"$GEN" --events 5000 --files 2 --seed 41 --catalog "$T/cat.csv" "$T/ev" 2>/dev/null
rs --db "$T/ref" import -q "$T/ev-0.jsonl" "$T/ev-1.jsonl" 2>/dev/null
rs --db "$T/ref" catalog "$T/cat.csv" 2>/dev/null
rs --db "$T/ref" export -o "$T/ref.csv"
job() { # job STATE OUT [OPTIONS...]
	state=$1
	out=$2
	shift 2
	$PY "$DASK" --scheduler "$ADDR" --program "$RS" --partitions 2 --catalog "$T/cat.csv" \
		--state "$state" -o "$out" "$@" "$T/ev-0.jsonl" "$T/ev-1.jsonl"
}

# ---- with the options ----
job "$T/s1" "$T/out1.csv" --tls-ca-file "$P/ca.pem" --tls-cert "$P/client.pem" \
	--tls-key "$P/client.key" 2> "$T/job1.err"
assert_status "the job over TLS, with --tls-*" 0 $?
assert_same_file "OUT.csv = one import's export" "$T/ref.csv" "$T/out1.csv"

# ---- with Dask's configuration instead ----
DASK_DISTRIBUTED__COMM__TLS__CA_FILE="$P/ca.pem" \
DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT="$P/client.pem" \
DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY="$P/client.key" \
	job "$T/s2" "$T/out2.csv" 2> "$T/job2.err"
assert_status "the job over TLS, Dask's configuration honoured" 0 $?
assert_same_file "OUT.csv = one import's export" "$T/ref.csv" "$T/out2.csv"

# ---- refused: no certificate; a certificate of another CA; half the options ----
cp "$T/out1.csv" "$T/out1.before"
snapshot() { (cd "$T/s1" && find . -type f | sort | xargs sha256sum); }
snapshot > "$T/state.before"
DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s job "$T/s1" "$T/out1.csv" 2> "$T/none.err"
assert_status "a driver without a certificate is refused" 1 $?
assert_eq "in one line" 1 "$(wc -l < "$T/none.err")"
assert_grep "naming the scheduler" "^rewardstore-dask: error: cannot reach the scheduler '$ADDR'" "$T/none.err"
DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s job "$T/s1" "$T/out1.csv" --tls-ca-file "$P/other-ca.pem" \
	--tls-cert "$P/stranger.pem" --tls-key "$P/stranger.key" 2> "$T/other.err"
assert_status "a driver with another CA's certificate is refused" 1 $?
assert_grep "naming the scheduler" "^rewardstore-dask: error: cannot reach the scheduler '$ADDR'" "$T/other.err"
job "$T/s1" "$T/out1.csv" --tls-cert "$P/client.pem" 2> "$T/half.err"
assert_status "--tls-cert alone is bad usage" 2 $?
assert_grep "says what goes together" "go together" "$T/half.err"
assert_same_file "OUT untouched" "$T/out1.before" "$T/out1.csv"
snapshot > "$T/state.after"
assert_same_file "the state untouched" "$T/state.before" "$T/state.after"

finish
