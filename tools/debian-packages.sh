#!/usr/bin/env bash
# The Debian packages the tests use, installed when missing: aria2c is the independent
# BitTorrent client, with Transmission, qBittorrent and rtorrent beside it for the desktop
# clients' test (iproute2's `ip netns` gives each its own network, which takes root), nginx
# serves the production web-seed path (X-Accel-Redirect), Playwright drives chromium for the
# page tests (`playwright install` downloads its own browser, which a machine without internet
# cannot; Debian's is enough).
# `debian-packages.sh bench` adds what the benches compare against or load the machine with
# (mktorrent, opentracker, wrk, stress-ng; bench/run.py).
# Not root and something missing: stop at once and print the one command to run.
set -euo pipefail
packages=(aria2 transmission-daemon qbittorrent-nox rtorrent iproute2 nginx-light chromium)
if [ "${1:-}" = bench ]; then
  packages+=(mktorrent opentracker wrk stress-ng)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "The tests need: ${missing[*]} (Debian package names); install them, then run make test again." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need Debian packages that are not installed. Run:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
