"""The device rules of the optional libraries, below :mod:`anyarray_nn.backend`.

:mod:`anyarray_nn.backend` turns names into namespaces and devices; this module holds what
each optional library needs for that (CuPy's GPU checks, PyTorch's and JAX's devices) and
the error raised when a library or its device is not usable, the libraries' CPU thread
pools (:func:`limit_threads`, the command line's ``--threads``), and
:func:`compiled_function` (JAX compiles whole pure functions). Only
:mod:`anyarray_nn.backend` and the command line import it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = [
    "CUDA_ERRORS",
    "DEFAULT_THREADS",
    "SUPPORTED_LIBRARIES",
    "BackendUnavailableError",
    "check_gpu",
    "compiled_function",
    "gpu_unusable",
    "import_optional",
    "jax_device",
    "limit_threads",
    "torch_device",
    "unsupported_message",
]


class BackendUnavailableError(RuntimeError):
    """A requested backend cannot be used on this machine (library or GPU missing)."""


def check_gpu(cupy: ModuleType) -> None:
    """Raise :class:`BackendUnavailableError` unless CuPy sees a usable CUDA GPU."""
    # `import cupy` succeeds without a driver; only a runtime query tells the truth.
    try:
        usable = bool(cupy.cuda.is_available())
        detail = "" if usable else cuda_detail(cupy)
    except Exception as exc:  # CUDARuntimeError and friends when no driver is present
        usable, detail = False, f"{type(exc).__name__}: {exc}"
    if not usable:
        raise BackendUnavailableError(
            "backend='cupy': CuPy is installed but no usable CUDA GPU was found "
            f"({detail or 'no device, or no driver'}). Check `nvidia-smi`, install the CuPy "
            "wheel that matches your CUDA version, or choose backend='numpy'."
        )


def cuda_detail(cupy: ModuleType) -> str:
    """Why ``cupy.cuda.is_available()`` said no: the CUDA runtime's own error, if any."""
    try:
        count = cupy.cuda.runtime.getDeviceCount()  # raises rather than returning 0
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return f"the CUDA runtime sees {count} devices"


#: What a CUDA failure raises: CUDARuntimeError and CUDADriverError are RuntimeErrors;
#: a broken CUDA installation can raise OSError or ImportError at the first call.
CUDA_ERRORS = (RuntimeError, OSError, ImportError)


def gpu_unusable(device: Any, exc: BaseException) -> BackendUnavailableError:
    """The error for a GPU that CuPy reports but cannot use."""
    where = "the current GPU" if device is None else f"GPU {device!r}"
    return BackendUnavailableError(
        f"backend='cupy': CuPy reports a CUDA device but cannot use {where} "
        f"({type(exc).__name__}: {exc}). Check `nvidia-smi` and that the CuPy wheel "
        "matches the driver's CUDA version, or choose backend='numpy'."
    )


def import_optional(name: str, module: str, install: str) -> ModuleType:
    """``module`` of the optional library ``name``, or a message that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend={name!r} needs {name}, which is not installed: {install}, or choose "
            "backend='numpy'."
        ) from exc


#: Namespaces of the libraries that :func:`resolve_backend` supports (names for messages).
SUPPORTED_LIBRARIES = "numpy, cupy, torch, jax (jax.numpy) and array_api_strict"


def unsupported_message(module: ModuleType) -> str:
    name = getattr(module, "__name__", type(module).__name__)
    return (
        f"unsupported array library {name!r}: anyarray_nn supports {SUPPORTED_LIBRARIES} "
        "(other Array API libraries are not tested, and some silently fail to train)"
    )


def torch_device(device: Any) -> tuple[ModuleType, Any]:
    """PyTorch (through array-api-compat's wrapper) on ``device``: ``"cpu"`` by default,
    ``"cuda"``, ``"cuda:N"``, ``"mps"``, a GPU number or a ``torch.device``.

    Every tensor is created from host data or computed from such tensors, none requires a
    gradient, so autograd never records a graph (the gradients are the essay's).
    """
    torch = importlib.import_module("torch")
    spec = "cpu" if device is None else f"cuda:{device}" if isinstance(device, int) else device
    try:
        dev = torch.device(spec)
    except (TypeError, RuntimeError, ValueError) as exc:
        raise ValueError(
            f"backend='torch': unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError(
            "backend='torch': no usable CUDA GPU (torch.cuda.is_available() is False; a CPU "
            "build of torch, or no driver). Check `nvidia-smi`, or use device='cpu'."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise BackendUnavailableError("backend='torch': MPS is not available; use device='cpu'.")
    try:
        probe = torch.empty((0,), device=dev)
    except CUDA_ERRORS as exc:
        raise BackendUnavailableError(
            f"backend='torch': cannot use device {device!r} ({type(exc).__name__}: {exc})"
        ) from exc
    return importlib.import_module("array_api_compat.torch"), probe.device


def jax_device(device: Any) -> tuple[ModuleType, Any]:
    """JAX on ``device``: a ``jax.Device``, an index into ``jax.devices()``, or a platform
    such as ``"cpu"``, ``"gpu"`` or ``"cuda:1"``; ``None`` is JAX's default device."""
    jax = importlib.import_module("jax")
    try:
        if device is None:
            dev = jax.devices()[0]
        elif isinstance(device, int):
            dev = jax.devices()[device]
        elif isinstance(device, str):
            platform, _, index = device.partition(":")
            dev = jax.devices(platform)[int(index or 0)]
        else:
            dev = device
        jax.numpy.empty((0,), device=dev)
    except (RuntimeError, IndexError, ValueError, TypeError) as exc:
        raise BackendUnavailableError(
            f"backend='jax': cannot use device {device!r} ({type(exc).__name__}: {exc}); "
            f"JAX sees {jax.devices()}"
        ) from exc
    return jax.numpy, dev


# --- CPU threads ------------------------------------------------------------------------

#: Threads per library pool unless told otherwise (``--threads``; 0: the libraries' own
#: defaults). At the default sizes (784-64-10, batch 128) the products are too small for more
#: threads to pay off, and on a machine shared with other jobs two BLAS threads made training
#: ten times slower than one (``docs/backends.md``, "Threads").
DEFAULT_THREADS = 1

#: Environment variables read by BLAS and OpenMP runtimes when they start.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

#: Kept alive: threadpoolctl's limits last as long as its controller object.
_LIMITS: list[Any] = []


def limit_threads(n: int, backend: str = "numpy") -> None:
    """Let BLAS, OpenMP, PyTorch and JAX use ``n`` CPU threads (``0``: change nothing).

    BLAS and OpenMP pools already loaded (NumPy's) are limited with ``threadpoolctl`` when it
    is installed; the ``*_NUM_THREADS`` environment variables reach the pools loaded later.
    PyTorch gets ``torch.set_num_threads`` (when it is loaded or ``backend`` is ``"torch"``).
    JAX reads ``XLA_FLAGS`` when its CPU client starts: one thread there takes effect only
    before the first JAX computation of the process.

    Parameters
    ----------
    n : int
        Threads per pool (``>= 1``), or 0 to leave every library at its default.
    backend : str
        The backend name the threads are for.
    """
    if n <= 0:
        return
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the environment variables reach later-loaded pools
        pass
    else:
        _LIMITS.append(threadpool_limits(limits=n))
    if backend == "torch" or "torch" in sys.modules:
        with contextlib.suppress(ImportError):  # "torch" in argv but not installed: later error
            importlib.import_module("torch").set_num_threads(n)
    if n == 1 and "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        one = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        if one not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {one}".strip()


def compiled_function(xp: ModuleType, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled where a library compiles whole functions (JAX: ``jax.jit``), else
    ``fn`` itself, which is then the standard path and the reference.

    ``fn`` must be pure: arrays (and lists or tuples of them) in, the same out, written with
    ``xp``; what it closes over is constant (JAX traces it once per input shape).  Cache
    the result (e.g. ``functools.lru_cache`` on its maker): every call of this compiles anew.
    """
    import array_api_compat  # here, not at the top: this module loads before the libraries

    if array_api_compat.is_jax_namespace(xp):
        import jax  # the fast path of a library that compiles whole functions

        return jax.jit(fn)
    return fn
