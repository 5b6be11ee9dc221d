# Shared by the shell tests: assertions that count, a private temporary
# directory removed on exit, and the closing "N passed, N failed" line.
set -u

: "${RS:?RS must name the rewardstore program}"
: "${top_srcdir:?top_srcdir must be set}"

# rs ARGS...: the program, under $RS_WRAP when set (make check-valgrind sets
# it to valgrind, which then turns memory errors and leaks into exit 99)
rs() { ${RS_WRAP:-} "$RS" "$@"; }

passed=0
failed=0
T=$(mktemp -d "${TMPDIR:-/tmp}/rs-test.XXXXXX")
# Servers a test starts go in pids: at exit they are killed (kill -9) and
# waited for, then unmount (a test's own clean-up, if it sets one) runs,
# then the directory goes (KEEP=1 keeps it).
pids=""
unmount=":"
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	$unmount 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
# watchdog SECONDS: a test that hangs fails instead of the whole run
watchdog() {
	( sleep "$1"; echo "FAIL: $(basename "$0") took more than $1 s" >&2; kill -TERM $$ ) &
	pids="$pids $!"
}

ok() { passed=$((passed + 1)); }
not_ok() {
	failed=$((failed + 1))
	printf 'FAIL: %s\n' "$*" >&2
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	if [ "$2" = "$3" ]; then ok; else not_ok "$1: expected '$2', got '$3'"; fi
}

# assert_status WHAT EXPECTED ACTUAL
assert_status() { assert_eq "$1 (exit status)" "$2" "$3"; }

# assert_same_file WHAT EXPECTED_FILE ACTUAL_FILE
assert_same_file() {
	if cmp -s "$2" "$3"; then
		ok
	else
		not_ok "$1: $3 differs from $2"
		diff -u "$2" "$3" | head -20 >&2
	fi
}

# assert_grep WHAT PATTERN FILE
assert_grep() {
	if grep -qE -- "$2" "$3"; then ok; else
		not_ok "$1: no line matching '$2' in $3"
		head -20 "$3" >&2
	fi
}

assert_no_grep() {
	if grep -qE -- "$2" "$3"; then not_ok "$1: unexpected '$2' in $3"; else ok; fi
}

finish() {
	printf '%s: %d passed, %d failed\n' "$(basename "$0" .sh)" "$passed" "$failed"
	[ "$failed" -eq 0 ]
}
