#!/usr/bin/env bash
# Run before `npm test`: says plainly what is missing instead of letting tests fail one by one.
here="$(dirname "$0")"
missing=()
while read -r p; do
  case "$p" in ""|\#*) continue ;; esac
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done < "$here/debian-packages.txt"
problems=0
if [ "${#missing[@]}" -gt 0 ]; then
  echo "npm test needs these Debian packages: ${missing[*]}" >&2
  echo "  install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "  (or run sudo .ci/run, which installs them and then runs npm test)" >&2
  problems=1
fi
if [ "$(id -u)" != 0 ]; then
  echo "npm test must run as root: the Orthanc tests create network namespaces (ip netns)." >&2
  problems=1
fi
exit "$problems"
