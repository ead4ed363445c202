#!/bin/sh
# Build a Debian bookworm base image with Python offline-friendly: debootstrap + `podman import`.
#
# Where Docker Hub cannot be reached (CI here, air-gapped machines) this stands in for the official
# python:3.11-slim-bookworm base: same Debian release, same Python minor version. Build the
# ganforge image on it with
#   podman build --build-arg CPU_BASE=localhost/ganforge-base:bookworm ...
# Usage: docker/local-base.sh [IMAGE]   (needs root, debootstrap, podman and a Debian mirror)
set -eu
IMAGE=${1:-localhost/ganforge-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PODMAN=${PODMAN:-podman}
if $PODMAN image exists "$IMAGE" 2>/dev/null; then
    echo "$IMAGE exists"; exit 0
fi
ROOT=$(mktemp -d /var/tmp/ganforge-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
# minbase: dpkg, apt and essentials only; python3-venv brings ensurepip for `python3 -m venv`
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
    || { tail -20 "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
# the official python images have `python` on PATH; so does this one
ln -sf python3 "$ROOT/usr/bin/python"
tar -C "$ROOT" -c . | $PODMAN import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
echo "built $IMAGE"
