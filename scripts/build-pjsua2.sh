#!/usr/bin/env bash
# Build pjproject's pjsua2 Python binding with server limits (SPEC §5) and install it into a
# venv. The build is cached outside the checkout, keyed by the archive's hash and this
# configuration, so it runs once per machine. Where it cannot be built (no compiler, swig
# or archive), the PyPI wheel is installed instead and the 4-call limit is announced loudly.
#
#   scripts/build-pjsua2.sh VENV
set -euo pipefail

venv=${1:?usage: build-pjsua2.sh VENV}
here=$(cd "$(dirname "$0")/.." && pwd)
version=2.15.1
sha256=f70f6f253c4a327e0436a6ee5db09e830dcde634bf052ac9d5e33004b5c9dab0
archive=${PJPROJECT_ARCHIVE:-$here/../shared/vendor/pjproject-$version.tar.gz}
upstream=https://github.com/pjsip/pjproject/archive/refs/tags/$version.tar.gz
cache_root=${BRIDGEDESK_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bridgedesk}
python=$venv/bin/python

# Server limits: hundreds of calls a process, an epoll socket table to match, enough
# transactions and dialogs for bursts, a conference bridge slot for every call and player.
config_site='#define PJSUA_MAX_CALLS 512
#define PJ_IOQUEUE_MAX_HANDLES 4096
#define PJSIP_MAX_TSX_COUNT (16*1024-1)
#define PJSIP_MAX_DIALOG_COUNT (16*1024-1)
#define PJSUA_MAX_PLAYERS 32
#define PJSUA_MAX_RECORDERS 32
#define PJSUA_MAX_CONF_PORTS (PJSUA_MAX_CALLS + 2*PJSUA_MAX_PLAYERS + 8)
#define PJMEDIA_HAS_VIDEO 0'
configure_flags='--enable-epoll --disable-video --disable-sound --disable-upnp
  --disable-libwebrtc --disable-libyuv --disable-v4l2 --disable-openh264 --disable-ffmpeg
  --disable-sdl --disable-vpx --disable-opencore-amr --disable-silk --disable-opus
  --disable-bcg729 --disable-lyra --disable-android-mediacodec'

fallback() {
  echo "" >&2
  echo "!!! $1" >&2
  echo "!!! Installing the PyPI wheel pjsua2-python instead: the SIP engine is LIMITED TO" >&2
  echo "!!! 4 CALLS PER PROCESS and a 64-handle socket table (see SPEC §5)." >&2
  echo "" >&2
  "$venv/bin/pip" install --quiet "pjsua2-python==$version"
  exit 0
}

installed_limit() {
  "$python" -c 'import pjsua2; print(pjsua2.UaConfig().maxCalls)' 2>/dev/null || echo 0
}

if [ ! -f "$archive" ]; then
  mkdir -p "$cache_root"
  archive=$cache_root/pjproject-$version.tar.gz
  if [ ! -f "$archive" ]; then
    echo "fetching pjproject $version from upstream" >&2
    curl -fsSL --retry 3 -o "$archive.part" "$upstream" && mv "$archive.part" "$archive" \
      || fallback "pjproject $version archive not found and not downloadable"
  fi
else
  echo "$sha256  $archive" | sha256sum --check --quiet - \
    || fallback "$archive does not match its published sha256"
fi
for tool in cc c++ make swig; do
  command -v "$tool" >/dev/null || fallback "no '$tool' on this machine to build pjproject"
done

archive_hash=$(sha256sum "$archive" | cut -d' ' -f1)
key=$(printf '%s\n%s\n%s\n%s\n' "$archive_hash" "$config_site" "$configure_flags" \
  "$("$python" -c 'import sys; print(sys.implementation.cache_tag)')" | sha256sum | cut -c1-16)
cache=$cache_root/pjsua2-$key

if [ ! -f "$cache/complete" ]; then
  echo "building pjproject $version with server limits into $cache (a few minutes, once)" >&2
  rm -rf "$cache"
  mkdir -p "$cache/src" "$cache/dist"
  tar -xzf "$archive" -C "$cache/src" --strip-components=1
  printf '%s\n' "$config_site" > "$cache/src/pjlib/include/pj/config_site.h"
  "$python" -m pip install --quiet setuptools wheel
  (
    cd "$cache/src"
    # shellcheck disable=SC2086
    CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC" ./configure $configure_flags > "$cache/configure.log" 2>&1
    grep -q "PJ_HAS_SSL_SOCK 1" pjlib/include/pj/compat/os_auto.h 2>/dev/null \
      && echo "TLS: yes (OpenSSL)" > "$cache/features" || echo "TLS: no" > "$cache/features"
    make dep > "$cache/build.log" 2>&1
    make -j"$(nproc)" >> "$cache/build.log" 2>&1
    make -C pjsip-apps/src/swig/python PYTHON_EXE="$python" pjsua2_wrap.cpp >> "$cache/build.log" 2>&1
    cd pjsip-apps/src/swig/python
    "$python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$cache/dist" . >> "$cache/build.log" 2>&1
  ) || { tail -n 30 "$cache/build.log" >&2 || true; fallback "the pjproject build failed (log: $cache/build.log)"; }
  rm -rf "$cache/src"
  touch "$cache/complete"
fi

"$venv/bin/pip" uninstall --quiet --yes pjsua2-python pjsua2-pybind11 pjsua2 >/dev/null 2>&1 || true
"$venv/bin/pip" install --quiet --no-deps --force-reinstall "$cache"/dist/*.whl
limit=$(installed_limit)
[ "$limit" -ge 512 ] || fallback "the built pjsua2 reports maxCalls=$limit, not 512"
echo "pjsua2 $version built from source: $limit calls per process, $(cat "$cache/features")" >&2
