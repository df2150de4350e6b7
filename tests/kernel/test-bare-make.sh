#!/bin/bash
# The README's first command on a machine without pkg-config's packages: in a
# copy of the tree, `make deps demo` runs with an apt-get that only marks the
# packages installed and a pkg-config that answers nothing until then. The
# build flags must be read after `deps` ran, in the same make run.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

test_deps_demo_in_one_make_run() {
        local tree=$TMP/tree shim=$TMP/shim
        mkdir -p "$tree" "$shim"
        (cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zv '^build' | cpio -0pdm --quiet "$tree")
        cat >"$shim/apt-get" <<EOS
#!/bin/sh
touch "$TMP/installed"
EOS
        cat >"$shim/pkg-config" <<EOS
#!/bin/sh
[ -e "$TMP/installed" ] || { echo "pkg-config: not installed yet" >&2; exit 127; }
exec /usr/bin/pkg-config "\$@"
EOS
        chmod +x "$shim/apt-get" "$shim/pkg-config"
        OUT=$(cd "$tree" && PATH=$shim:$PATH make -j2 deps demo 2>&1)
        RC=$?
        expect_rc 0 "make deps demo"
        [ -e "$TMP/installed" ] || fail "deps did not run apt-get"
        expect_out '== demo done'
        [ -x "$tree/build/reconcile" ] || fail "no binary built"
}

echo "1..1"
t "make deps demo reads build flags after deps installed the packages" test_deps_demo_in_one_make_run
