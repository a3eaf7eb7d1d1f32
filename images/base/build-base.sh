#!/usr/bin/env bash
# Build a local Debian bookworm base image with Python 3.11 when no container registry is reachable.
#
#   images/base/build-base.sh [TAG]        (default TAG: fednode/base:bookworm)
#
# Real users with a registry do not need this: the Dockerfiles default to python:3.11-slim-bookworm. Air-gapped
# builders pass the result as a build argument: --build-arg BASE_IMAGE=fednode/base:bookworm.
# The mirror is debootstrap's default unless DEBIAN_MIRROR is set. Needs root, debootstrap and a Docker daemon.
set -euo pipefail
TAG="${1:-fednode/base:bookworm}"
if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG already present"
    exit 0
fi
ROOTFS="$(mktemp -d /tmp/fednode-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
# python3-venv for the build stage's venv; ca-certificates for TLS to the coordinator; tini is not needed (compose init).
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >/tmp/fednode-debootstrap.log 2>&1 \
    || { tail -20 /tmp/fednode-debootstrap.log >&2; exit 1; }
# Keep the image small: no apt lists, docs or caches.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$TAG" >/dev/null
echo "built $TAG"
