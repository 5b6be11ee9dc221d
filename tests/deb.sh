#!/bin/sh
# The Debian packages (issue #24), built once from a clean copy of the tree
# with dpkg-buildpackage (which runs the quick unit tests) and checked:
# lintian reports no error; each package holds what it should; extracted
# into a scratch root, its rewardstore replays data/logs into the expected
# export and says the version configure.ac sets, rewardstore-dask answers
# --help, and a small C program built with pkg-config against the -dev
# files opens a store.  tools/test-all runs it (not make check: it builds
# the whole tree again).
#   tests/deb.sh [DIR]   builds in DIR (default: a temporary directory)
set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
RS=/bin/false # lib.sh wants one; the packaged program is used here
export top_srcdir RS
. "$top_srcdir/tests/lib.sh"

for tool in dpkg-buildpackage dh lintian pkg-config cc; do
	command -v "$tool" >/dev/null || { not_ok "$tool is missing (tools/install-deps installs it)"; finish; exit 1; }
done

# ---- build from a clean copy: the files git knows, as they are now ----
mkdir -p "$T/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top_srcdir" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$T/src"
else
	(cd "$top_srcdir" && tar --exclude='./_build*' --exclude=./.git -cf - .) | tar -xf - -C "$T/src"
fi
(cd "$T/src" && dpkg-buildpackage -b -us -uc) > "$T/build.log" 2>&1
st=$?
assert_status "dpkg-buildpackage -b -us -uc" 0 "$st"
[ "$st" -eq 0 ] || { tail -40 "$T/build.log" >&2; finish; exit 1; }
assert_grep "the build ran the unit tests" "^PASS: tests/check_rewardstore" "$T/build.log"
version=$(sed -n 's/^AC_INIT(\[rewardstore\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
deb_version=$(sed -n '1s/^rewardstore (\([^)]*\)).*/\1/p' "$top_srcdir/debian/changelog")
assert_eq "debian/changelog's version is configure.ac's" "$version" "$deb_version"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in rewardstore librewardstore0 librewardstore-dev; do
	[ -f "$T/${p}_${version}_$arch.deb" ]
	assert_status "built ${p}_${version}_$arch.deb" 0 $?
done

# ---- lintian: no errors (warnings are listed in the build's log) ----
lintian --tag-display-limit 0 "$T"/*.changes > "$T/lintian.log" 2>&1
assert_no_grep "lintian reports no error" "^E: " "$T/lintian.log"
grep -E "^[EW]: " "$T/lintian.log" >&2

# ---- what each package holds ----
contents() { dpkg-deb -c "$T/${1}_${version}_$arch.deb" | awk '{ print $6 }' > "$T/$1.list"; }
has() { assert_grep "$1 holds $2" "^\\./$2\$" "$T/$1.list"; }
contents rewardstore
for f in usr/bin/rewardstore usr/bin/rewardstore-dask usr/share/man/man1/rewardstore.1.gz \
	usr/share/man/man1/rewardstore-dask.1.gz usr/share/bash-completion/completions/rewardstore \
	usr/share/doc/rewardstore/README.md.gz usr/share/doc/rewardstore/SHARDS.md.gz \
	usr/share/doc/rewardstore/DESIGN.md.gz usr/share/doc/rewardstore/CONTRACT.md.gz \
	usr/share/doc/rewardstore/examples/rewardstore-daily.service \
	usr/share/doc/rewardstore/examples/rewardstore-daily.timer \
	usr/share/doc/rewardstore/examples/rewardstore-daily.env; do
	has rewardstore "$f"
done
assert_no_grep "rewardstore holds no library" "\\.so" "$T/rewardstore.list"
contents librewardstore0
has librewardstore0 "usr/lib/$multiarch/librewardstore.so.0"
assert_no_grep "librewardstore0 holds no headers" "include/" "$T/librewardstore0.list"
contents librewardstore-dev
for f in usr/include/rewardstore/rewardstore.h usr/include/rewardstore/store.h \
	"usr/lib/$multiarch/librewardstore.so" "usr/lib/$multiarch/pkgconfig/rewardstore.pc"; do
	has librewardstore-dev "$f"
done
soname=$(dpkg-deb --ctrl-tarfile "$T/librewardstore0_${version}_$arch.deb" | tar -xOf - ./shlibs 2>/dev/null | awk '{ print $1 "." $2 }')
assert_eq "the library's SONAME (from libtool's -version-info)" "librewardstore.0" "$soname"
dpkg-deb -f "$T/rewardstore_${version}_$arch.deb" Depends Recommends > "$T/deps"
assert_grep "rewardstore depends on the library" "librewardstore0" "$T/deps"
assert_grep "and recommends python3-distributed" "^Recommends: python3-distributed" "$T/deps"

# ---- extracted into a scratch root: the sample job, --version, the driver ----
R=$T/root
mkdir -p "$R"
for p in rewardstore librewardstore0 librewardstore-dev; do
	dpkg-deb -x "$T/${p}_${version}_$arch.deb" "$R"
done
LD_LIBRARY_PATH="$R/usr/lib/$multiarch"
export LD_LIBRARY_PATH
prs() { "$R/usr/bin/rewardstore" "$@"; }
assert_eq "rewardstore --version: the package's version" "rewardstore $version" \
	"$(prs --version | cut -d' ' -f1,2)"
assert_eq "-V too" "$(prs --version)" "$(prs -V)"
prs --db "$T/sample" import --quiet "$top_srcdir"/data/logs/*.jsonl 2>/dev/null
st=$?
[ "$st" -eq 0 ] || [ "$st" -eq 3 ]
assert_status "the packaged rewardstore replays data/logs" 0 $?
prs --db "$T/sample" export -o "$T/sample.csv"
assert_same_file "and exports the expected CSV" "$top_srcdir/data/expected-export.csv" "$T/sample.csv"
/usr/bin/python3 "$R/usr/bin/rewardstore-dask" --help > "$T/dask.help" 2>&1
assert_status "rewardstore-dask --help" 0 $?
assert_grep "says how it is used" "--scheduler" "$T/dask.help"

# ---- a C program against the -dev files, with pkg-config ----
cat > "$T/open.c" <<'EOF'
#include <stdio.h>
#include <rewardstore/rewardstore.h>

int main(int argc, char **argv)
{
	rs_store *s;
	rs_error err;
	if (argc != 2 || rs_store_open(&s, argv[1], RS_STORE_RDONLY, &err) != 0) {
		fprintf(stderr, "cannot open the store: %s\n", argc == 2 ? err.text : "usage");
		return 1;
	}
	printf("opened %s\n", rs_store_path(s));
	rs_store_close(s);
	return 0;
}
EOF
PKG_CONFIG_PATH="$R/usr/lib/$multiarch/pkgconfig"
export PKG_CONFIG_PATH
flags=$(pkg-config --define-variable=prefix="$R/usr" --cflags --libs rewardstore)
assert_status "pkg-config --cflags --libs rewardstore" 0 $?
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$T/open" "$T/open.c" $flags
assert_status "a C program compiles and links against the -dev files" 0 $?
"$T/open" "$T/sample" > "$T/open.out"
assert_status "and opens a store" 0 $?
assert_grep "says which" "^opened $T/sample\$" "$T/open.out"

finish
