#!/usr/bin/env bash
# One command for an NVIDIA GPU machine (issue 7): the test suite with the cupy backend
# active, then the GPU training benchmark. Results go to $OUT (default ./gpu_out).
#
# The GPU machine has CuPy (cupy-cuda13x 14), PyTorch, numpy, pytest and tqdm but no
# internet and no array-api-compat / array-api-strict: they travel as wheels in .whl/.
#
# Preparation, once, on a machine with pip access, in the repository root:
#   echo /.whl/ >> .git/info/exclude; echo /.mnist/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .whl \
#       array-api-compat array-api-strict
#   mkdir -p .mnist && cp "$ANYARRAY_NN_DATA"/*-ubyte.gz .mnist/     # the four MNIST files
#
# Then the device tool call (about 5 minutes of device time; the limit leaves room to rerun):
#   run(command="bash benchmarks/run_gpu_checks.sh", carry=[".whl", ".mnist"], timeout_s=540)
#
# Stages (each with its own time limit; one failing does not stop the next):
#   1. environment: nvidia-smi, python, cupy / torch versions      -> $OUT/env.txt
#   2. pytest, whole suite (cupy parameters run; -k cupy summary)  -> $OUT/pytest.txt, .xml
#   3. gpu_speed.py: cases, TF32 off/on, time to 98%, CLI e2e      -> $OUT/results/<gpu>.json/.md
# $OUT/status.txt has each stage's exit status.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT/results"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
SITE="${SITE:-/tmp/anyarray_nn_wheels}"  # the carried wheels are installed here
status() { echo "$1: $2" | tee -a "$OUT/status.txt"; }
: > "$OUT/status.txt"

# --- packages: carried wheels into $SITE, the project from the working tree ---------------
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" .whl/*.whl
    status wheels $?
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    status wheels "none in .whl/ (array-api-compat / array-api-strict must be installed)"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

# --- data -----------------------------------------------------------------------------------
if [ -z "${ANYARRAY_NN_DATA:-}" ]; then
    for d in "$PWD/.mnist" "$PWD/shared/data/mnist" "$PWD/../shared/data/mnist"; do
        if ls "$d"/train-images* >/dev/null 2>&1; then export ANYARRAY_NN_DATA="$d"; break; fi
    done
fi
echo "ANYARRAY_NN_DATA=${ANYARRAY_NN_DATA:-<unset: synthetic data, no MNIST tests>}"

# --- 1. environment -------------------------------------------------------------------------
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
    "$PY" - <<'EOF'
import platform, numpy
print("python", platform.python_version(), "numpy", numpy.__version__)
for name in ("cupy", "torch", "array_api_compat", "array_api_strict", "pytest"):
    try:
        mod = __import__(name)
        print(name, mod.__version__)
    except Exception as exc:
        print(name, "MISSING", exc)
import cupy
print("cupy sees a GPU:", cupy.cuda.is_available(), cupy.cuda.runtime.getDeviceCount())
from anyarray_nn.backend import resolve_backend
print(resolve_backend("cupy"))
EOF
} 2>&1 | tee "$OUT/env.txt"
status environment "${PIPESTATUS[0]}"

# --- 2. tests ---------------------------------------------------------------------------------
timeout 180 "$PY" -m pytest -q -p no:cacheprovider --junitxml="$OUT/pytest.xml" 2>&1 \
    | tee "$OUT/pytest.txt" | tail -n 40
status pytest "${PIPESTATUS[0]}"
echo "cupy test ids that passed / failed / skipped:"
"$PY" - "$OUT/pytest.xml" <<'EOF' | tee -a "$OUT/pytest.txt"
import sys, xml.etree.ElementTree as ET
counts = {"passed": 0, "failed": 0, "skipped": 0}
for case in ET.parse(sys.argv[1]).iter("testcase"):
    if "cupy" not in case.get("name", ""):
        continue
    kinds = {child.tag for child in case}
    kind = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
    counts[kind] += 1
print("cupy-parametrised tests:", counts)
EOF

# --- 3. GPU benchmark -------------------------------------------------------------------------
# GPU_SPEED_ARGS adds options, e.g. GPU_SPEED_ARGS="--quick" when device time is short.
timeout 300 "$PY" benchmarks/gpu_speed.py --out-dir "$OUT/results" --timeout 200 \
    ${GPU_SPEED_ARGS:-} 2>&1 \
    | tee "$OUT/gpu_speed.txt"
status gpu_speed "${PIPESTATUS[0]}"
cat "$OUT/status.txt"
