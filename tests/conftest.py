"""Shared fixtures: the backend matrix every math test runs over.

numpy; array_api_strict on its default device; array_api_strict on ``device1`` (catches a
forgotten ``device=`` or a stray NumPy call); cupy only when a GPU is really usable; NumPy
whose created arrays are read-only (``tests/readonly_numpy.py``: catches a write to an input
and an in-place update of an array that cannot take one); torch and JAX on the CPU (JAX in
64-bit mode, so that its float64 tests run), and on a GPU where one is usable.

Two environment switches concern the ``cupy`` parameter (marked ``gpu``; ``pytest -m gpu``
selects exactly the CuPy-parametrised tests):

* ``ANYARRAY_NN_REQUIRE_GPU=1`` (set by ``benchmarks/run_gpu_checks.sh``): no usable GPU is a
  failure of every ``cupy`` test, with the reason, instead of a skip.
* ``ANYARRAY_NN_GPU_DRY_RUN=1`` (the GPU script's ``--dry-run`` on a CPU machine): without a
  usable GPU the ``cupy`` tests run on ``array_api_strict``'s ``device1`` as a stand-in, so
  that the script's selection, report and counting can be rehearsed.  Never set it in CI.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import readonly_numpy

# JAX fixes its 64-bit mode at its first array: turn it on for the session before any test
# makes one, so that the float64 tests run on JAX too (float32 stays float32: every creation
# call of the library passes dtype=, which tests/test_jax.py checks).
try:
    import jax
except ImportError:  # JAX is optional: its parameter is skipped
    jax = None
else:
    jax.config.update("jax_enable_x64", True)

from anyarray_nn.backend import Backend, BackendUnavailableError, resolve_backend

REQUIRE_GPU_ENV = "ANYARRAY_NN_REQUIRE_GPU"
GPU_DRY_RUN_ENV = "ANYARRAY_NN_GPU_DRY_RUN"


@dataclass(frozen=True)
class CupyProbe:
    """Whether ``resolve_backend("cupy")`` works here, and if not, why.

    Attributes
    ----------
    usable : bool
    reason : str
        Why CuPy is not usable ("" when it is): not installed, the import failed, or the
        library's own :class:`BackendUnavailableError` message (no driver, no device, a
        failed allocation).
    warnings : tuple of str
        Warnings raised while importing CuPy and resolving the backend; recorded (and shown
        in the report header) instead of being turned into a silent skip.
    device : str
        The device the ``cupy`` tests run on, when usable.
    """

    usable: bool
    reason: str
    warnings: tuple[str, ...] = ()
    device: str = ""


def probe_cupy() -> CupyProbe:
    """Resolve the cupy backend exactly as the tests will, keeping the reason it failed.

    Only "not installed" and :class:`BackendUnavailableError` count as "no GPU"; any other
    exception is a bug in the backend code and propagates (pytest stops at collection).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            import cupy  # noqa: F401
        except ImportError as exc:
            return CupyProbe(False, f"CuPy is not installed ({exc})", _texts(caught))
        except Exception as exc:  # a broken installation, not our code
            reason = f"`import cupy` failed: {type(exc).__name__}: {exc}"
            return CupyProbe(False, reason, _texts(caught))
        try:
            resolved = resolve_backend("cupy")
        except BackendUnavailableError as exc:
            return CupyProbe(False, str(exc), _texts(caught))
    return CupyProbe(True, "", _texts(caught), str(resolved.device))


def _texts(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    return tuple(f"{w.category.__name__}: {w.message}" for w in caught)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


CUPY = probe_cupy()
REQUIRE_GPU = _env_flag(REQUIRE_GPU_ENV)
GPU_DRY_RUN = _env_flag(GPU_DRY_RUN_ENV) and not CUPY.usable


def _cupy_param() -> object:
    marks: list[pytest.MarkDecorator] = [pytest.mark.gpu]
    if not (CUPY.usable or REQUIRE_GPU or GPU_DRY_RUN):
        marks.append(pytest.mark.skip(reason=f"no usable CuPy GPU: {CUPY.reason}"))
    return pytest.param(("cupy", None), id="cupy", marks=marks)


def _optional_param(name: str, device: str, id: str) -> object:
    """A parameter of an optional library or device (torch, JAX, their GPUs): skipped, with
    the library's own reason, when it is not installed or the device is not usable."""
    try:
        resolve_backend(name, device)
    except BackendUnavailableError as exc:
        return pytest.param((name, device), id=id, marks=pytest.mark.skip(reason=str(exc)))
    return pytest.param((name, device), id=id)


BACKEND_PARAMS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", None), id="strict-cpu"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    _cupy_param(),
    pytest.param(("numpy-readonly", None), id="numpy-readonly"),
    _optional_param("torch", "cpu", "torch-cpu"),
    _optional_param("jax", "cpu", "jax-cpu"),
    # GPUs of torch and JAX: run where usable (not marked ``gpu``, which is CuPy's).
    _optional_param("torch", "cuda", "torch-cuda"),
    _optional_param("jax", "gpu", "jax-gpu"),
]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line on the cupy parameter (and any warning from importing CuPy)."""
    if CUPY.usable:
        lines = [f"cupy: usable, tests run on {CUPY.device}"]
    elif GPU_DRY_RUN:
        lines = [f"cupy: DRY RUN, the cupy tests run on array_api_strict device1 ({CUPY.reason})"]
    else:
        what = "REQUIRED (cupy tests fail)" if REQUIRE_GPU else "cupy tests skipped"
        lines = [f"cupy: not usable, {what}: {CUPY.reason}"]
    lines += [f"cupy: warning while probing: {w}" for w in CUPY.warnings]
    return lines


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """A resolved :class:`~anyarray_nn.backend.Backend` of the test matrix."""
    name, device = request.param
    if name == "numpy-readonly":
        return readonly_numpy.backend()
    if name == "cupy" and not CUPY.usable:
        if GPU_DRY_RUN:
            return resolve_backend("array_api_strict", "device1")
        pytest.fail(f"{REQUIRE_GPU_ENV}=1 but CuPy is not usable: {CUPY.reason}", pytrace=False)
    return resolve_backend(name, device)


@pytest.fixture
def numpy_backend() -> Backend:
    return resolve_backend("numpy")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder from ``ANYARRAY_NN_DATA``; skips the test when unset."""
    value = os.environ.get("ANYARRAY_NN_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("real MNIST not available: set ANYARRAY_NN_DATA to a folder with the IDX files")
    return Path(value)
