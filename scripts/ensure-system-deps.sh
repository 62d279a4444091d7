#!/usr/bin/env bash
# Installs the Debian packages Loa needs (ffmpeg, espeak-ng) when they are missing, and
# libopencore-amrnb0, the AMR-NB codec library the tests encode phone recordings with.
# Idempotent: does nothing when the tools are on PATH and the library is known to ldconfig.
set -euo pipefail

missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
# ldconfig lives in /sbin, which a normal user's PATH may lack; grep reads all of its
# output (no -q) so that pipefail never sees ldconfig killed by SIGPIPE.
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep libopencore-amrnb >/dev/null ||
  missing+=(libopencore-amrnb0)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "loa: installing missing system packages: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "loa: error: ${missing[*]} missing and apt-get is not available; install them with your system's package manager" >&2
  exit 1
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    echo "loa: error: ${missing[*]} missing and this user is not root (and has no password-less sudo); run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "loa: installed ${missing[*]}" >&2
