#!/bin/sh
# The library's files call each other one way (issue #22): in the graph of
# src/*.c, where a file points to each file defining an rs_ function it
# calls, there is no cycle (tests/callgraph.py finds them).  The check
# itself is shown to find a cycle planted in a scratch directory.
. "${top_srcdir:-.}/tests/lib.sh"

/usr/bin/python3 "$top_srcdir/tests/callgraph.py" "$top_srcdir/src" > "$T/cycles"
assert_status "the call graph of src/*.c was read" 0 $?
if [ -s "$T/cycles" ]; then
	not_ok "the library's files call each other in a circle:"
	sed 's/^/  /' "$T/cycles" >&2
else
	ok
fi
[ "$(grep -c . "$T/cycles")" -eq 0 ]
assert_status "no cycle" 0 $?

mkdir -p "$T/src"
printf 'int rs_a(void);\nint rs_b(void)\n{\n\treturn rs_a();\n}\n' > "$T/src/b.c"
printf 'int rs_b(void);\nint rs_a(void) {\n\treturn rs_b();\n}\n' > "$T/src/a.c"
printf 'int rs_a(void);\nint rs_c(void) { return rs_a(); }\n' > "$T/src/c.c"
/usr/bin/python3 "$top_srcdir/tests/callgraph.py" "$T/src" > "$T/planted"
assert_eq "a planted cycle is found, and only it" "a.c -> b.c (rs_b); b.c -> a.c (rs_a)" "$(cat "$T/planted")"

finish
