#!/usr/bin/env bash
# Prepares Wine for running Windows builds in the tests: a Wine prefix under
# $NETC_TOOLS_DIR/wine (default /opt/netc-tools/wine) with the
# bcryptprimitives.dll stub of this folder in its system32 (Wine 8.0 lacks
# the DLL, and every Rust program for Windows imports ProcessPrng from it),
# and the runner $NETC_TOOLS_DIR/bin/netc-wine: `netc-wine PROGRAM.exe
# ARGS...` runs a Windows console program with that prefix, quietly. Cargo
# uses it as the target runner of x86_64-pc-windows-gnu, and the tests find
# it through NETC_WINE. Needs wine64 (Debian: /usr/lib/wine/wine64) and
# x86_64-w64-mingw32-gcc. A stamp of the stub's source skips the work on a
# warm machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${NETC_TOOLS_DIR:-/opt/netc-tools}
wine=${NETC_WINE64:-/usr/lib/wine/wine64}
wineserver=${NETC_WINESERVER:-/usr/lib/wine/wineserver64}
prefix=$tools/wine/prefix
runner=$tools/bin/netc-wine
mkdir -p "$tools/bin" "$tools/wine"
stamp=$(cat "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" "$0" | sha256sum | cut -c1-16)
if [ -x "$runner" ] && [ "$(cat "$tools/wine/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "wine: up to date ($prefix)"
  exit 0
fi
start=$SECONDS
x86_64-w64-mingw32-gcc -O2 -shared -o "$tools/wine/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
rm -rf "$prefix"
# wineboot creates the prefix; no display is needed for console programs.
WINEPREFIX=$prefix WINEDEBUG=-all DISPLAY= "$wine" wineboot --init >/dev/null 2>&1 || true
"$wine" --version >/dev/null
test -d "$prefix/drive_c/windows/system32" || { echo "wine: no prefix was created in $prefix" >&2; exit 1; }
cp "$tools/wine/bcryptprimitives.dll" "$prefix/drive_c/windows/system32/"
cat >"$runner.tmp" <<RUNNER
#!/bin/sh
# Runs a Windows console program under Wine with netc's test prefix
# (made by runtime/tests/consumers/wine/setup.sh).
export WINEPREFIX='$prefix'
export WINEDEBUG=-all
export WINEDLLOVERRIDES='bcryptprimitives=n;winemenubuilder.exe=d'
export DISPLAY=
# One wineserver for the prefix stays up 30 s past its last program, so a
# program that starts just as the previous one ends does not meet a server
# that is exiting ("wine client error: recvmsg: Connection reset by peer").
# A second start while one runs does nothing.
'$wineserver' -p30 2>/dev/null || true
exec '$wine' "\$@"
RUNNER
chmod +x "$runner.tmp"
mv -f "$runner.tmp" "$runner"
echo "$stamp" >"$tools/wine/stamp"
echo "wine: prefix ready in $((SECONDS - start)) s ($prefix, runner $runner)"
