#!/usr/bin/env bash
# Installs the system packages synpo needs on a fresh Debian 12 (bookworm) machine:
#   - Mesa's Vulkan drivers from bookworm-backports (lavapipe, a CPU Vulkan that Dawn accepts;
#     the Mesa 22.3 in plain bookworm is rejected by Dawn),
#   - Chromium (Debian's), for the demo site's end-to-end test,
#   - redis-server (Debian's), for `synpo queue` and its tests (which start their own servers),
#   - pnpm at the version pinned in package.json.
# Idempotent: every step is skipped when its result is already present. Needs root for apt.
set -euo pipefail

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo "$@"; else
      echo "setup-system: '$*' needs root; run this script as root or install sudo" >&2; exit 1
    fi
  else "$@"; fi
}

mesa_ok() {
  # Mesa >= 23 ships a lavapipe that Dawn accepts.
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23
}

if ! mesa_ok; then
  if [ -f /etc/os-release ] && grep -q 'VERSION_CODENAME=bookworm' /etc/os-release; then
    src=/etc/apt/sources.list.d/debian.sources
    dst=/etc/apt/sources.list.d/backports.sources
    if [ ! -f "$dst" ]; then
      if [ ! -f "$src" ]; then
        echo "setup-system: $src not found; add bookworm-backports to apt by hand" >&2; exit 1
      fi
      # The backports source is derived from the machine's own first stanza (same mirror, same key).
      awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$src" | grep -v '^#' \
        | sed 's/^Suites:.*/Suites: bookworm-backports/' | need_root tee "$dst" >/dev/null
    fi
    need_root apt-get update -qq
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers
  else
    need_root apt-get update -qq
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers
  fi
fi

# Debian's Chromium, for the demo site's end-to-end test (playwright-core drives it; it never
# downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# Debian's Redis (7.0): the job queue's store. Only the binary is needed; the tests start their
# own servers on free ports, and `synpo queue` talks to whatever Redis the user points it at.
if ! command -v redis-server >/dev/null 2>&1; then
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi

# DICOM tools the tests use as independent references (synpo itself needs none of them):
# dicom3tools' dciodvfy checks the DICOM SEG objects synpo writes against the standard, GDCM's
# gdcmconv compresses test series into each transfer syntax, DCMTK's dcmdump says which.
if ! command -v dciodvfy >/dev/null 2>&1 || ! command -v gdcmconv >/dev/null 2>&1 || ! command -v dcmdump >/dev/null 2>&1; then
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dicom3tools libgdcm-tools dcmtk
fi

want_pnpm=$(node -p "require('$(cd "$(dirname "$0")/.." && pwd)/package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  npm install -g --silent "pnpm@$want_pnpm"
fi
echo "setup-system: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers), $(chromium --version 2>/dev/null | head -1), $(redis-server --version | cut -d' ' -f1-3), pnpm $(pnpm --version)"
