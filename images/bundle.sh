#!/usr/bin/env bash
# Offline bundle for air-gapped sites: both images (docker save, shared layers stored once), the compose files,
# the deployment guide, and SHA-256 checksums, in one tarball.
#
#   images/bundle.sh [OUT]       (default OUT: build/fednode-bundle-$VERSION.tar)
#   FEDNODE_VERSION=0.1.0        image tag to bundle (fednode-site:$VERSION, fednode-coordinator:$VERSION)
#
# At the site (see docs/deployment.md, "Air-gapped install"):
#   tar -xf fednode-bundle-0.1.0.tar && cd fednode-bundle-0.1.0
#   sha256sum -c SHA256SUMS && docker load -i images.tar
#   docker image inspect --format '{{.Id}}' fednode-site:0.1.0    # equals the id listed in IMAGES
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${FEDNODE_VERSION:-0.1.0}"
NAME="fednode-bundle-$VERSION"
OUT="${1:-build/$NAME.tar}"
IMAGES=("fednode-site:$VERSION" "fednode-coordinator:$VERSION")

for image in "${IMAGES[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || {
        echo "bundle: image $image not found; build it first (docs/deployment.md, 'Building the images')" >&2
        exit 1
    }
done

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/fednode-bundle.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
DIR="$STAGE/$NAME"
mkdir -p "$DIR/compose" "$DIR/docs"
# One archive for both images: they share every layer but the last few, and docker save stores each layer once.
docker save -o "$DIR/images.tar" "${IMAGES[@]}"
for image in "${IMAGES[@]}"; do
    printf '%s %s\n' "$image" "$(docker image inspect --format '{{.Id}}' "$image")"
done >"$DIR/IMAGES"
cp compose/site.yml compose/coordinator.yml "$DIR/compose/"
cp docs/deployment.md "$DIR/docs/"
(cd "$DIR" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
mkdir -p "$(dirname "$OUT")"
# Deterministic member order and ownership, so the same images give the same listing.
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$STAGE" -cf "$OUT.partial" "$NAME"
mv "$OUT.partial" "$OUT"
sha256sum "$OUT" | sed "s#  .*/#  #" >"$OUT.sha256"
echo "bundle: $OUT ($(du -h "$OUT" | cut -f1)); checksum in $OUT.sha256"
