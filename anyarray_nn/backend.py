"""Backends: the one place where a backend *name* becomes an array namespace and a device.

Everything else in :mod:`anyarray_nn` receives an ``xp`` namespace (the Array API
standard's name for "the module of array functions") and a ``device`` and never asks
which library it is talking to.  This module is also the one place that crosses between
the host (NumPy) and a device: :func:`to_numpy`, :func:`from_numpy` and the seeded host
random generator (:func:`host_rng`).

Examples
--------
>>> from anyarray_nn.backend import resolve_backend
>>> b = resolve_backend("numpy")
>>> b.name, str(b.device)
('numpy', 'cpu')
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from .libraries import (
    CUDA_ERRORS,
    SUPPORTED_LIBRARIES,
    BackendUnavailableError,
    check_gpu,
    compiled_function,
    gpu_unusable,
    import_optional,
    jax_device,
    torch_device,
    unsupported_message,
)

__all__ = [
    "BACKEND_NAMES",
    "DTYPES",
    "SUPPORTED_LIBRARIES",
    "Backend",
    "BackendUnavailableError",
    "compiled_function",
    "device_scope",
    "floating_point_errors_ignored",
    "from_numpy",
    "host_rng",
    "index_dtype",
    "resolve_backend",
    "resolve_dtype",
    "to_numpy",
]

#: Compute dtypes, by name: float32 by default, float64 on request.
DTYPES = ("float32", "float64")

#: Backend names understood by :func:`resolve_backend`: the one table of supported libraries
#: (the command line's ``--backend`` choices derive from it).
BACKEND_NAMES = ("numpy", "cupy", "torch", "jax", "array_api_strict")

Array = Any


@dataclass(frozen=True)
class Backend:
    """An array namespace together with the device that arrays are created on.

    Attributes
    ----------
    xp : module
        Array-API-compatible namespace (``array_api_compat.numpy``,
        ``array_api_compat.cupy``, ``array_api_strict``, ...).
    device : object
        Device to create arrays on (``"cpu"`` for NumPy, a ``cupy.cuda.Device`` or an
        ``array_api_strict.Device``).
    name : str
        Short human-readable name, e.g. ``"numpy"`` or ``"array_api_strict"``.
    """

    xp: ModuleType
    device: Any
    name: str

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"


def _import_cupy() -> ModuleType:
    try:
        cupy = importlib.import_module("cupy")
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend='cupy' needs CuPy, which is not installed. Install it with "
            "`pip install 'anyarray-nn[cuda12]'` (CUDA 12) or `pip install "
            "'anyarray-nn[cuda13]'` (CUDA 13), or choose backend='numpy'."
        ) from exc
    return cupy


def resolve_backend(backend: str | ModuleType | Backend = "numpy", device: Any = None) -> Backend:
    """Turn a backend choice into an array namespace and a device.

    Parameters
    ----------
    backend : {"numpy", "cupy", "torch", "jax", "array_api_strict"}, module or Backend
        A backend name, an array namespace of one of these libraries (e.g.
        ``array_api_strict``, ``array_api_compat.numpy``, ``torch``, ``jax.numpy``), or an
        already resolved :class:`Backend`.  Namespaces of other libraries (dask, ndonnx,
        ...) are refused: they are not tested here.
    device : optional
        Device to create arrays on.  ``None`` means the namespace's default device.
        For CuPy an integer selects a GPU; for torch ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
        ``"mps"`` or a ``torch.device``; for JAX a ``jax.Device``, a platform
        (``"cpu"``, ``"gpu"``, ``"cuda"``, optionally ``":N"``) or an index into
        ``jax.devices()``; for ``array_api_strict`` a device name such as ``"device1"``.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Unknown backend name, an unsupported library's namespace, or an unknown device.
    BackendUnavailableError
        The library is not installed, or the requested GPU is not usable (the message says
        which).
    """
    if isinstance(backend, Backend):
        if device is None:
            return backend
        return resolve_backend(backend.xp, device)
    if isinstance(backend, str):
        name = backend.strip().lower().replace("-", "_")
        if name in ("np", "numpy"):
            module: ModuleType = np
        elif name in ("cp", "cupy"):
            module = _import_cupy()
            check_gpu(module)
        elif name == "torch":
            module = import_optional("torch", "torch", "`pip install 'anyarray-nn[torch]'`")
        elif name == "jax":
            module = import_optional("jax", "jax.numpy", "`pip install 'anyarray-nn[jax]'`")
        elif name in ("strict", "array_api_strict"):
            try:
                module = importlib.import_module("array_api_strict")
            except ImportError as exc:
                raise BackendUnavailableError(
                    "backend='array_api_strict' needs `pip install array-api-strict`."
                ) from exc
        else:
            raise ValueError(
                f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_NAMES)} "
                "or pass an array namespace"
            )
    elif isinstance(backend, ModuleType):
        module = backend
    else:
        raise TypeError(
            f"backend must be a name ({', '.join(BACKEND_NAMES)}), an array namespace or a "
            f"Backend, not {type(backend).__name__}"
        )
    return _from_module(module, device)


def _from_module(module: ModuleType, device: Any) -> Backend:
    probe_module = _unwrapped(module)
    if array_api_compat.is_cupy_namespace(probe_module):
        return _cupy_backend(probe_module, device)
    if array_api_compat.is_torch_namespace(probe_module):
        xp, dev = torch_device(device)
        return Backend(xp=xp, device=dev, name="torch")
    if array_api_compat.is_jax_namespace(probe_module):
        xp, dev = jax_device(device)
        return Backend(xp=xp, device=dev, name="jax")
    if not (
        array_api_compat.is_numpy_namespace(probe_module)
        or array_api_compat.is_array_api_strict_namespace(probe_module)
    ):
        raise ValueError(unsupported_message(probe_module))
    try:
        probe = (
            probe_module.empty((0,), device=device)
            if device is not None
            else (probe_module.empty((0,)))
        )
    except Exception as exc:
        if isinstance(device, str) and hasattr(probe_module, "Device"):
            # array_api_strict accepts its devices by name ("CPU_DEVICE", "device1").
            device = probe_module.Device(device)
            probe = probe_module.empty((0,), device=device)
        else:
            raise ValueError(f"cannot create arrays on device {device!r}: {exc}") from exc
    xp = array_api_compat.array_namespace(probe)
    dev = array_api_compat.device(probe)
    name = _name_of(xp)
    return Backend(xp=xp, device=dev, name=name)


def _cupy_backend(cupy: ModuleType, device: Any) -> Backend:
    """CuPy on GPU ``device`` (an int, a ``cupy.cuda.Device`` or None for the current one).

    CuPy's creation functions take no ``device=`` keyword (CuPy 13 and 14), and the
    array-api-compat wrapper ignores it except in ``asarray``: a device is *selected* with
    ``cupy.cuda.Device(n)`` and arrays are created inside ``with device:``.  A trial
    allocation there proves that the GPU really works.
    """
    check_gpu(cupy)
    try:
        dev = cupy.cuda.Device(device)  # None: the current device; Device(Device) is fine
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"backend='cupy': device must be a GPU number or a cupy.cuda.Device, not "
            f"{device!r} ({exc})"
        ) from exc
    except CUDA_ERRORS as exc:
        raise gpu_unusable(device, exc) from exc
    try:
        with dev:
            cupy.empty((0,), dtype=cupy.float32)
    except CUDA_ERRORS as exc:
        raise gpu_unusable(device, exc) from exc
    xp = importlib.import_module("array_api_compat.cupy")
    return Backend(xp=xp, device=dev, name="cupy")


def device_scope(backend: Backend) -> contextlib.AbstractContextManager[Any]:
    """A context in which new arrays of ``backend`` land on ``backend.device``.

    The Array API creation functions take ``device=``, but CuPy's (and array-api-compat's
    CuPy wrapper, except ``asarray``) ignore it and allocate on the *current* GPU.  For CuPy
    this enters ``backend.device`` (a ``cupy.cuda.Device``); for every other backend it does
    nothing.  Never hold it across a ``yield``: enter it around the work of one step.
    """
    if is_cupy(backend.xp):
        return backend.device  # type: ignore[no-any-return]
    return contextlib.nullcontext()


def _unwrapped(module: ModuleType) -> ModuleType:
    """The real library behind an array-api-compat wrapper namespace."""
    if array_api_compat.is_numpy_namespace(module):
        return np
    if array_api_compat.is_cupy_namespace(module):
        return importlib.import_module("cupy")
    return module


def _name_of(xp: ModuleType) -> str:
    # JAX before NumPy: ``jax.numpy`` is not NumPy, whatever its module name suggests.
    if array_api_compat.is_jax_namespace(xp):
        return "jax"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
    if array_api_compat.is_array_api_strict_namespace(xp):
        return "array_api_strict"
    return getattr(xp, "__name__", "unknown").split(".")[-1]


def resolve_dtype(xp: ModuleType, dtype: Any) -> Any:
    """Turn ``"float32"``/``"float64"`` (or a dtype of ``xp``) into a floating dtype of ``xp``.

    Raises
    ------
    ValueError
        For anything that is not float32 or float64, and for float64 on JAX without 64-bit
        mode (the message says how to enable it).
    """
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None) or str(dtype)
    name = str(name).replace("numpy.", "").replace("<class '", "").replace("'>", "")
    name = name.rsplit(".", 1)[-1]
    if name not in DTYPES:
        raise ValueError(f"dtype must be {' or '.join(map(repr, DTYPES))}, not {dtype!r}")
    if name == "float64" and array_api_compat.is_jax_namespace(xp) and not _jax_x64():
        raise ValueError(
            "dtype='float64' on JAX needs 64-bit mode, which is off: run "
            '`jax.config.update("jax_enable_x64", True)` before creating any JAX array, or '
            "set JAX_ENABLE_X64=1 in the environment (or use dtype='float32')"
        )
    return getattr(xp, name)


def _jax_x64() -> bool:
    """Whether JAX honours float64 (``jax_enable_x64``); without it JAX makes float32."""
    import jax  # only reached for a JAX namespace

    return bool(jax.config.jax_enable_x64)


def index_dtype(xp: ModuleType, device: Any = None) -> Any:
    """The namespace's integer dtype for indices on ``device``: int64, but int32 on JAX
    without 64-bit mode, where asking for int64 warns (and truncates to int32 anyway)."""
    return xp.__array_namespace_info__().default_dtypes(device=device)["indexing"]


def is_cupy(xp: ModuleType) -> bool:
    """True when ``xp`` is CuPy: for optional fast paths, the standard path being the reference."""
    return bool(array_api_compat.is_cupy_namespace(xp))


# --- host <-> device -------------------------------------------------------------------


def to_numpy(x: Array) -> np.ndarray:
    """Copy an array of any supported backend to a host ``numpy.ndarray``.

    Host data (NumPy arrays, lists, scalars) comes back as a NumPy array without a copy
    where NumPy allows it.
    """
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()  # CuPy arrays refuse implicit conversion (np.asarray raises)
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()  # CUDA tensors refuse np.asarray
    if not array_api_compat.is_array_api_obj(x):
        return np.asarray(x)
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        import array_api_strict  # only reached when strict arrays exist

        x = x.to_device(array_api_strict.Device("CPU_DEVICE"))
        return np.asarray(x)
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except Exception:
            pass
    return np.asarray(x)


def from_numpy(a: Any, backend: Backend, dtype: Any = None) -> Array:
    """Copy data to ``backend``: a NumPy array, anything ``numpy.asarray`` takes, or an
    array of another backend (CuPy, ``array_api_strict``, ...), which goes through the host.

    ``dtype`` may be a NumPy dtype or a name; the cast happens on the host so that every
    backend receives the same bits.  For CuPy the copy lands on ``backend.device``.
    """
    host_data = array_api_compat.is_numpy_array(a) or not array_api_compat.is_array_api_obj(a)
    host = np.asarray(a) if host_data else to_numpy(a)  # only device arrays are read back
    if dtype is not None:
        host = host.astype(_numpy_dtype(dtype), copy=False)
    with device_scope(backend):
        return backend.xp.asarray(host, device=backend.device)


def _numpy_dtype(dtype: Any) -> np.dtype:
    if isinstance(dtype, str):
        return np.dtype(dtype)
    name = getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]
    return np.dtype(str(name))


def floating_point_errors_ignored() -> contextlib.AbstractContextManager[Any]:
    """A context in which overflow and invalid values do not warn on the host library.

    NumPy (and ``array_api_strict``, built on it) warns at every overflowing step of a
    diverging run; the training loop detects divergence itself, once per epoch.  CuPy never
    warns, so this only concerns NumPy.
    """
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def host_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A host-side ``numpy.random.Generator``: the single source of randomness.

    Drawing on the host and then copying with :func:`from_numpy` makes the same seed give
    bit-identical numbers on every backend.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def host_normal(
    rng: np.random.Generator, shape: tuple[int, ...], std: float, dtype: Any
) -> np.ndarray:
    """Draw ``N(0, std^2)`` on the host in float64, then round once to ``dtype``."""
    return (rng.standard_normal(shape) * std).astype(_numpy_dtype(dtype))


def host_permutation(rng: np.random.Generator, n: int) -> np.ndarray:
    """A host permutation of ``range(n)`` as int64."""
    return rng.permutation(n).astype(np.int64)
