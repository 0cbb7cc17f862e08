#!/usr/bin/env bash
# One shot on an NVIDIA GPU machine (issues 7 and 16): the CuPy-parametrised tests, then the GPU
# training benchmark.  Every stage has a time budget, writes its results as it goes (nothing is
# held until the end), and a timings table closes the run; the exit status is non-zero when any
# stage failed.  Results go to $OUT (set by the device tool; default ./gpu_out).
#
# The GPU machine has CuPy (cupy-cuda13x 14), PyTorch, numpy, pytest and tqdm but no internet and
# no array-api-compat / array-api-strict: they travel as wheels in .whl/, pinned to the versions
# the project is tested with.  scikit-learn and its dependencies travel too (43 MB of wheels with
# the two above; 54 MB with MNIST, under the 64 MiB carry limit), so the estimators' CuPy test
# (fit/predict on CuPy arrays with array_api_dispatch) runs; without them it is not collected.
#
# Preparation, once, on a machine with pip access, in the repository root:
#   echo /.whl/ >> .git/info/exclude; echo /.mnist/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .whl \
#       array-api-compat==1.16.0 array-api-strict==2.6.1 \
#       scikit-learn==1.9.1 scipy==1.18.1 joblib==1.6.0 threadpoolctl==3.8.0
#   mkdir -p .mnist && cp "$ANYARRAY_NN_DATA"/*-ubyte.gz .mnist/     # the four MNIST files
#
# Then ONE device-tool call.  The stages' budgets add up to 340 s (under 6 minutes); with 1-2
# minutes of machine start that leaves, of the 15 device-minutes, room for one rerun on the
# still-warm machine:
#   run(command="bash benchmarks/run_gpu_checks.sh", carry=[".whl", ".mnist"], timeout_s=420)
#
# Stages (budget in seconds; one failing does not stop the next; BUDGET_<STAGE>=S overrides):
#   wheels       20  the carried wheels into $SITE
#   environment  30  nvidia-smi, versions, resolve_backend("cupy"), a product on the GPU
#                                                                        -> $OUT/env.txt
#   pytest      100  `pytest -m gpu`: only the cupy parameter of the backend matrix (CI runs
#                    the rest), with ANYARRAY_NN_REQUIRE_GPU=1 (no usable GPU fails them, with
#                    the reason); SIGINT at the budget, so the junit report is still written.
#                    Fails unless every cupy test counted by `--collect-only -m gpu` passed.
#                                                              -> $OUT/pytest.txt, pytest.xml
#   gpu_speed   190  benchmarks/gpu_speed.py --budget 180: TF32 off/on, time to 98%, CLI e2e;
#                    JSON and Markdown rewritten after every child  -> $OUT/results/<gpu>.json/.md
# $OUT/status.txt has one line per stage, $OUT/timings.txt the closing table.
#
# A run counts as a pass when it ends with "RESULT: PASS", the pytest line reads
# "N/N cupy tests passed" (N about 80), and results/<gpu>.md has the speed table, a
# "Time to 98% test accuracy ... **S s**" line and an `anyarray-nn train` line without FAILED.
#
# DRY_RUN=1 (or --dry-run): the same flow on a machine without a GPU.  Wheels are not
# installed; the environment stage reports why CuPy is unusable; the cupy tests run with
# ANYARRAY_NN_GPU_DRY_RUN=1 (array_api_strict's device1 stands in for the GPU); gpu_speed.py runs
# with --dry-run on a subset.  Set PYTHON to the interpreter of a development environment.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY_RUN="${DRY_RUN:-0}"
[ "${1:-}" = "--dry-run" ] && DRY_RUN=1
OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT/results"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
SITE="${SITE:-/tmp/anyarray_nn_wheels}"  # the carried wheels are installed here
: > "$OUT/status.txt"
FAILED=""
ROWS=""
RUN_START=$(date +%s.%N)

now() { date +%s.%N; }
# record STAGE STATUS START BUDGET NOTE: a status line and a row of the timings table.
record() {
    local secs
    secs=$(awk -v a="$3" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    ROWS="$ROWS$(printf '%-12s %-6s %8s %7s  %s' "$1" "$2" "$secs" "$4" "$5")"$'\n'
    echo "$1: $2 ($secs s of $4 s) $5" | tee -a "$OUT/status.txt"
    [ "$2" = "FAIL" ] && FAILED="$FAILED $1"
    return 0
}
# limit SECONDS CMD...: SIGINT at the budget (the command can still write its report), then
# SIGKILL 15 s later.  Exit status 124 when the budget ran out.
limit() { local s="$1"; shift; timeout -s INT -k 15 "$s" "$@"; }
banner() { echo; echo "=== $1 (budget $2 s) ==="; }

# --- wheels -------------------------------------------------------------------------------------
B="${BUDGET_WHEELS:-20}"; t0=$(now); banner wheels "$B"
if [ "$DRY_RUN" = 1 ]; then
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    record wheels skip "$t0" "$B" "dry run: array-api-compat/strict from $PY's environment"
elif ls .whl/*.whl >/dev/null 2>&1; then
    limit "$B" "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$SITE" .whl/*.whl
    rc=$?
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    record wheels "$([ $rc = 0 ] && echo ok || echo FAIL)" "$t0" "$B" "$(ls .whl | tr '\n' ' ')"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    record wheels warn "$t0" "$B" "none in .whl/: array-api-compat/strict must be installed"
fi

# --- data ---------------------------------------------------------------------------------------
if [ -z "${ANYARRAY_NN_DATA:-}" ]; then
    for d in "$PWD/.mnist" "$PWD/shared/data/mnist" "$PWD/../shared/data/mnist"; do
        if ls "$d"/train-images* >/dev/null 2>&1; then export ANYARRAY_NN_DATA="$d"; break; fi
    done
fi
echo "ANYARRAY_NN_DATA=${ANYARRAY_NN_DATA:-<unset: synthetic data, no MNIST tests>}"

# --- environment --------------------------------------------------------------------------------
B="${BUDGET_ENVIRONMENT:-30}"; t0=$(now); banner environment "$B"
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
        || echo "nvidia-smi: not available"
    limit "$B" "$PY" - <<'EOF'
import platform, sys, numpy
print("python", platform.python_version(), "numpy", numpy.__version__)
for name in ("cupy", "torch", "array_api_compat", "array_api_strict", "pytest"):
    try:
        print(name, __import__(name).__version__)
    except Exception as exc:
        print(name, "MISSING", exc)
from anyarray_nn.backend import BackendUnavailableError, from_numpy, resolve_backend, to_numpy
try:
    b = resolve_backend("cupy")
except BackendUnavailableError as exc:
    print("resolve_backend('cupy') FAILED:", exc)
    sys.exit(3)
x = from_numpy(numpy.arange(4.0).reshape(2, 2), b, "float32")
print(b, "2x2 product on the GPU:", to_numpy(x @ x).tolist())
EOF
} 2>&1 | tee "$OUT/env.txt"
rc=${PIPESTATUS[0]}
if [ "$DRY_RUN" = 1 ]; then
    record environment skip "$t0" "$B" "dry run: no GPU (exit $rc, the reason is above)"
else
    record environment "$([ "$rc" = 0 ] && echo ok || echo FAIL)" "$t0" "$B" "exit $rc"
fi

# --- pytest: the cupy parameter only -------------------------------------------------------------
B="${BUDGET_PYTEST:-100}"; t0=$(now); banner pytest "$B"
if [ "$DRY_RUN" = 1 ]; then
    export ANYARRAY_NN_GPU_DRY_RUN=1
    echo "dry run: the cupy tests run on array_api_strict device1 (ANYARRAY_NN_GPU_DRY_RUN=1)"
else
    export ANYARRAY_NN_REQUIRE_GPU=1
fi
"$PY" -m pytest --collect-only -q -m gpu -p no:cacheprovider > "$OUT/pytest_collect.txt" 2>&1
collect_rc=$?
expected=$(grep -c '^tests/.*::' "$OUT/pytest_collect.txt")
echo "cupy tests collected: $expected (collect-only exit $collect_rc)"
rm -f "$OUT/pytest.xml"
limit "$B" "$PY" -m pytest -m gpu -q -p no:cacheprovider --tb=short --continue-on-collection-errors \
    --junitxml="$OUT/pytest.xml" 2>&1 | tee "$OUT/pytest.txt"
rc=${PIPESTATUS[0]}
unset ANYARRAY_NN_GPU_DRY_RUN ANYARRAY_NN_REQUIRE_GPU
summary=$("$PY" - "$OUT/pytest.xml" "$expected" <<'EOF' 2>&1
import sys, xml.etree.ElementTree as ET
path, expected = sys.argv[1], int(sys.argv[2])
counts, bad = {"passed": 0, "failed": 0, "skipped": 0}, []
try:
    cases = list(ET.parse(path).iter("testcase"))
except (OSError, ET.ParseError) as exc:
    cases = []
    print(f"no junit report ({exc}); ", end="")
for case in cases:
    kinds = {child.tag for child in case}
    kind = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
    counts[kind] += 1
    if kind != "passed":
        bad.append(case.get("name"))
print(f"{counts['passed']}/{expected} cupy tests passed ({counts['failed']} failed, "
      f"{counts['skipped']} skipped, {expected - len(cases)} not run)"
      + (f"; first not passed: {', '.join(bad[:5])}" if bad else ""))
sys.exit(0 if expected > 0 and counts["passed"] >= expected else 1)
EOF
)
count_rc=$?
echo "$summary" | tee -a "$OUT/pytest.txt"
note="$summary; pytest exit $rc"
[ "$rc" = 124 ] && note="$note (budget reached: SIGINT)"
[ "$collect_rc" != 0 ] && note="$note; collect-only exit $collect_rc (see pytest_collect.txt)"
status=ok
{ [ "$count_rc" != 0 ] || [ "$rc" != 0 ] || [ "$collect_rc" != 0 ]; } && status=FAIL
record pytest "$status" "$t0" "$B" "$note"

# --- GPU benchmark ------------------------------------------------------------------------------
B="${BUDGET_GPU_SPEED:-190}"; t0=$(now); banner gpu_speed "$B"
inner=$((B - 10))
if [ "$DRY_RUN" = 1 ]; then
    # NumPy/torch on the CPU, a 3000-image subset, a reachable target, a short CLI run.
    # shellcheck disable=SC2086
    limit "$B" "$PY" benchmarks/gpu_speed.py --out-dir "$OUT/results" --budget "$inner" \
        --timeout 75 --dry-run --quick --limit 3000 --target 0.85 --accuracy-epochs 2 \
        --e2e-args "--epochs 1 --train-size 2000" ${GPU_SPEED_ARGS:-} 2>&1 | tee "$OUT/gpu_speed.txt"
else
    # GPU_SPEED_ARGS adds options, e.g. GPU_SPEED_ARGS="--quick" when device time is short.
    # shellcheck disable=SC2086
    limit "$B" "$PY" benchmarks/gpu_speed.py --out-dir "$OUT/results" --budget "$inner" \
        --timeout 75 ${GPU_SPEED_ARGS:-} 2>&1 | tee "$OUT/gpu_speed.txt"
fi
rc=${PIPESTATUS[0]}
note="exit $rc; $(ls "$OUT/results" | tr '\n' ' ')"
[ "$rc" = 124 ] && note="$note (budget reached: SIGINT)"
record gpu_speed "$([ "$rc" = 0 ] && echo ok || echo FAIL)" "$t0" "$B" "$note"

# --- summary ------------------------------------------------------------------------------------
total=$(awk -v a="$RUN_START" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
{
    echo
    printf '%-12s %-6s %8s %7s  %s\n' stage status seconds budget note
    printf '%s' "$ROWS"
    printf '%-12s %-6s %8s %7s\n' total "" "$total" 340
} | tee "$OUT/timings.txt"
[ "$DRY_RUN" = 1 ] && echo "(dry run on the CPU: nothing here was measured on a GPU)"
if [ -n "$FAILED" ]; then
    echo "RESULT: FAIL (${FAILED# })" | tee -a "$OUT/status.txt"
    exit 1
fi
echo "RESULT: PASS" | tee -a "$OUT/status.txt"
