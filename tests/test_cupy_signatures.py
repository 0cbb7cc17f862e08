"""Every call into CuPy, checked against the real CuPy signatures on a machine without a GPU.

The GPU code paths (the cupy backend, ``Network.asarray`` of CuPy arrays, the resident and
streamed batches, persistence, ``benchmarks/gpu_speed.py``) never run on a CPU-only machine,
so a keyword CuPy does not take (``cupy.empty(..., device=...)`` in CuPy 14) would only show
up on a GPU.  These tests import the real CuPy wheel (it imports without a GPU), replace each
CuPy function and class the library calls by a ``unittest.mock.create_autospec`` of its real
signature (``inspect.signature``, or for CuPy's Cython functions the signature line Cython
embeds in their docstrings), backed by NumPy, force ``cupy.cuda.is_available`` true, and
drive those paths as far as they go without a device.  A fake current-device stack also
checks that every allocation happens inside the backend's ``cupy.cuda.Device``.

CI installs ``cupy-cuda13x`` (``.ci/run``) so that these tests run there.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import numpy as np
import pytest

try:
    import cupy
    import cupyx
    import cupyx.profiler
except ImportError as exc:  # only a missing CuPy skips; any other failure is an error
    pytest.skip(
        f"CuPy is not installed ({exc}); CI installs cupy-cuda13x (.ci/run) so that every "
        "call into CuPy is checked against its real signature",
        allow_module_level=True,
    )

import anyarray_nn.backend as backend_mod
from anyarray_nn import Network
from anyarray_nn.backend import BackendUnavailableError, resolve_backend, to_numpy
from anyarray_nn.data import BatchIterator
from anyarray_nn.nn.optimizers import SGD
from anyarray_nn.persistence import (
    load_checkpoint,
    load_network,
    save_checkpoint,
    save_network,
)

P = inspect.Parameter
_DOC_SIGNATURE = re.compile(r"^[\w.]*\((?P<params>.*)\)\s*(->.*)?$")


# --- real signatures ------------------------------------------------------------------------


def real_signature(obj: Any) -> inspect.Signature:
    """The signature of a CuPy callable: ``inspect`` first, else Cython's docstring line.

    Cython compiles CuPy's classes and many functions with ``embedsignature``: their
    docstrings start with ``Event.record(self, stream=None)`` or
    ``get_current_stream(int device_id=-1)``.  C types before a name are dropped.
    """
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        pass
    doc = (getattr(obj, "__doc__", None) or "").strip()
    match = _DOC_SIGNATURE.match(doc.splitlines()[0]) if doc else None
    if match is None:
        raise AssertionError(f"no signature for {obj!r}: inspect and its docstring give none")
    params: list[inspect.Parameter] = []
    kind = P.POSITIONAL_OR_KEYWORD
    for token in _split_params(match["params"]):
        if token == "*":
            kind = P.KEYWORD_ONLY
        elif token == "/":
            params = [p.replace(kind=P.POSITIONAL_ONLY) for p in params]
        else:
            name, eq, default = token.partition("=")
            name = name.split(":")[0].split()[-1]  # "int device_id" -> "device_id"
            if name.startswith("**"):
                params.append(P(name[2:], P.VAR_KEYWORD))
            elif name.startswith("*"):
                params.append(P(name[1:], P.VAR_POSITIONAL))
                kind = P.KEYWORD_ONLY
            else:
                params.append(P(name, kind, default=_literal(default) if eq else P.empty))
    return inspect.Signature(params)


def _split_params(text: str) -> list[str]:
    """Split a parameter list at the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()


def checked(real: Any, impl: Callable[..., Any]) -> mock.Mock:
    """A ``create_autospec`` of ``real``'s signature that runs ``impl`` when the call fits."""

    def stub(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
        raise AssertionError

    stub.__signature__ = real_signature(real)  # type: ignore[attr-defined]
    stub.__name__ = stub.__qualname__ = getattr(real, "__name__", "cupy_call")
    return mock.create_autospec(stub, side_effect=impl)


# --- a CuPy without a GPU ------------------------------------------------------------------


class FakeDevice:
    """``cupy.cuda.Device``: a context that makes its id the fake GPU's current device."""

    def __init__(self, gpu: Any, device: Any = None) -> None:
        self._gpu = gpu  # a FakeGpu, or anything with `current` and `stack`
        self.id = gpu.current if device is None else int(device)  # Device(Device) works
        self.compute_capability = "90"

    def __int__(self) -> int:
        return self.id

    def __enter__(self) -> FakeDevice:
        self._gpu.stack.append(self._gpu.current)
        self._gpu.current = self.id
        return self

    def __exit__(self, *exc: object) -> None:
        self._gpu.current = self._gpu.stack.pop()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FakeDevice) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<fake CUDA Device {self.id}>"

    def synchronize(self) -> None:
        self._gpu.call("Device.synchronize", self)


class FakeStream:
    """``cupy.cuda.Stream``."""

    def __init__(self, gpu: FakeGpu, non_blocking: bool = False) -> None:
        self._gpu, self.non_blocking, self.device_id = gpu, non_blocking, gpu.current

    def wait_event(self, *args: Any, **kwargs: Any) -> None:
        self._gpu.call("Stream.wait_event", self, *args, **kwargs)

    def synchronize(self, *args: Any, **kwargs: Any) -> None:
        self._gpu.call("Stream.synchronize", self, *args, **kwargs)


class FakeEvent:
    """``cupy.cuda.Event``."""

    def __init__(self, gpu: FakeGpu) -> None:
        self._gpu = gpu

    def record(self, *args: Any, **kwargs: Any) -> None:
        self._gpu.call("Event.record", self, *args, **kwargs)

    def synchronize(self, *args: Any, **kwargs: Any) -> None:
        self._gpu.call("Event.synchronize", self, *args, **kwargs)


class FakeArray:
    """``cupy.ndarray``: host memory and the device it was made on; CuPy's methods checked.

    Like CuPy's arrays it refuses implicit conversion (``numpy.asarray`` raises), has no
    ``__array_namespace__`` (CuPy 14), and a slice is a view.
    """

    def __init__(self, gpu: FakeGpu, host: np.ndarray, device_id: int) -> None:
        self._gpu, self.host, self.device_id = gpu, host, device_id

    shape = property(lambda self: self.host.shape)
    dtype = property(lambda self: self.host.dtype)
    ndim = property(lambda self: self.host.ndim)
    device = property(lambda self: FakeDevice(self._gpu, self.device_id))

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()`")

    def __getitem__(self, key: Any) -> FakeArray:
        return FakeArray(self._gpu, self.host[key], self.device_id)

    def __imul__(self, other: float) -> FakeArray:
        self.host *= other
        return self

    def get(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return self._gpu.call("ndarray.get", self, *args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> None:
        self._gpu.call("ndarray.set", self, *args, **kwargs)

    def astype(self, *args: Any, **kwargs: Any) -> FakeArray:
        return self._gpu.call("ndarray.astype", self, *args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> FakeArray:
        return self._gpu.call("ndarray.take", self, *args, **kwargs)


class FakeGpu:
    """The CuPy API the library and ``gpu_speed.py`` use, each call checked by autospec.

    Attributes
    ----------
    mocks : dict of str to unittest.mock.Mock
        The autospecs by name (``"empty"``, ``"Stream.synchronize"``, ...), with their calls.
    allocations : list of (str, int)
        Every device allocation: what made it and the device that was current.
    current : int
        The current device (changed by ``with FakeDevice``).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.current, self.stack = 0, []
        self.allocations: list[tuple[str, int]] = []
        self.current_stream = FakeStream(self)
        self.mocks: dict[str, mock.Mock] = {}
        for name, (owner, attr, impl) in self._table().items():
            real = getattr(owner, attr)
            self.mocks[name] = checked(real, impl)
            if owner is not cupy.ndarray and not name.startswith(("Device.", "Stream.", "Event.")):
                monkeypatch.setattr(owner, attr, self.mocks[name])
        monkeypatch.setattr(cupy, "ndarray", FakeArray)  # is_cupy_array() recognises FakeArray

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.mocks[name](*args, **kwargs)

    def new(self, host: np.ndarray, what: str) -> FakeArray:
        self.allocations.append((what, self.current))
        return FakeArray(self, host, self.current)

    def _table(self) -> dict[str, tuple[Any, str, Callable[..., Any]]]:
        cuda, runtime = cupy.cuda, cupy.cuda.runtime
        return {
            "cuda.is_available": (cuda, "is_available", lambda: True),
            "cuda.Device": (cuda, "Device", lambda device=None: FakeDevice(self, device)),
            "Device.synchronize": (cuda.Device, "synchronize", lambda dev: None),
            "cuda.Stream": (cuda, "Stream", self._stream),
            "Stream.wait_event": (cuda.Stream, "wait_event", self._wait_event),
            "Stream.synchronize": (cuda.Stream, "synchronize", lambda s: None),
            "cuda.Event": (cuda, "Event", lambda *a, **k: FakeEvent(self)),
            "Event.record": (cuda.Event, "record", self._record),
            "Event.synchronize": (cuda.Event, "synchronize", lambda e: None),
            "cuda.get_current_stream": (
                cuda,
                "get_current_stream",
                lambda device_id=-1: self.current_stream,
            ),
            "cuda.get_elapsed_time": (cuda, "get_elapsed_time", lambda start, end: 2.5),
            "runtime.getDeviceProperties": (
                runtime,
                "getDeviceProperties",
                lambda device: {"name": b"Fake GPU", "totalGlobalMem": 2**35},
            ),
            "runtime.getDeviceCount": (runtime, "getDeviceCount", lambda: 0),
            "runtime.driverGetVersion": (runtime, "driverGetVersion", lambda: 13000),
            "runtime.runtimeGetVersion": (runtime, "runtimeGetVersion", lambda: 13000),
            "empty": (
                cupy,
                "empty",
                lambda shape, dtype=float, order="C": self._np("empty", shape, dtype),
            ),
            "eye": (cupy, "eye", self._eye),
            "asarray": (cupy, "asarray", self._asarray),
            "cupyx.empty_pinned": (
                cupyx,
                "empty_pinned",
                lambda shape, dtype=float, order="C": np.empty(shape, dtype, order),
            ),
            "cupyx.profiler.benchmark": (cupyx.profiler, "benchmark", self._benchmark),
            "ndarray.get": (cupy.ndarray, "get", lambda a, *rest, **kw: a.host.copy()),
            "ndarray.set": (cupy.ndarray, "set", self._set),
            "ndarray.astype": (cupy.ndarray, "astype", self._astype),
            "ndarray.take": (cupy.ndarray, "take", self._take),
        }

    # implementations (the call has already been checked against CuPy's signature)
    def _np(self, what: str, shape: Any, dtype: Any) -> FakeArray:
        return self.new(getattr(np, what)(shape, dtype), what)

    def _eye(self, N: int, M: Any = None, k: int = 0, dtype: Any = float, order: str = "C") -> Any:
        return self.new(np.eye(N, M, k, dtype=dtype), "eye")

    def _stream(
        self,
        null: bool = False,
        non_blocking: bool = False,
        ptds: bool = False,
        priority: Any = None,
    ) -> FakeStream:
        return FakeStream(self, non_blocking)

    def _asarray(self, a: Any, dtype: Any = None, *args: Any, **kwargs: Any) -> FakeArray:
        assert not isinstance(a, FakeArray) or a.device_id == self.current, "cross-device"
        host = a.host if isinstance(a, FakeArray) else np.asarray(a)
        return self.new(np.array(host, dtype=dtype), "asarray")

    def _set(self, a: FakeArray, arr: Any, stream: Any = None) -> None:
        assert isinstance(arr, np.ndarray), "set() copies from host memory"
        assert stream is None or isinstance(stream, FakeStream)
        np.copyto(a.host, arr)

    def _astype(self, a: FakeArray, dtype: Any, *args: Any, copy: bool = True, **kw: Any) -> Any:
        return self.new(a.host.astype(dtype), "astype")

    def _take(self, a: FakeArray, indices: Any, axis: Any = None, out: Any = None) -> Any:
        idx = indices.host if isinstance(indices, FakeArray) else indices
        return self.new(np.take(a.host, idx, axis=axis), "take")

    def _wait_event(self, stream: FakeStream, event: Any) -> None:
        assert isinstance(event, FakeEvent)

    def _record(self, event: FakeEvent, stream: Any = None) -> None:
        assert stream is None or isinstance(stream, FakeStream)

    def _benchmark(self, func: Any, args: Any = (), *rest: Any, **kwargs: Any) -> Any:
        return mock.Mock(gpu_times=np.full((1, 3), 1e-3))


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGpu]:
    fake = FakeGpu(monkeypatch)
    yield fake
    assert fake.current == 0 and not fake.stack, "a device context was left entered"


def _on_device(gpu: FakeGpu, device_id: int) -> None:
    wrong = [(what, dev) for what, dev in gpu.allocations if dev != device_id]
    assert not wrong, f"allocations outside `with cupy.cuda.Device({device_id})`: {wrong}"


# --- the guard itself ------------------------------------------------------------------------


def test_the_autospecs_reject_what_cupy_rejects(gpu: FakeGpu) -> None:
    """CuPy 14's creation functions take no ``device=``; nor do the checked stand-ins."""
    with pytest.raises(TypeError, match="device"):
        cupy.empty((0,), device=cupy.cuda.Device(0))
    with pytest.raises(TypeError, match="stream"):
        cupy.asarray(np.zeros(2), stream=None)
    with pytest.raises(TypeError):
        cupy.cuda.Event(timing=False)
    with pytest.raises(TypeError):
        cupy.cuda.get_current_stream(device=0)
    with pytest.raises(TypeError):
        gpu.new(np.zeros(2), "test").set(np.zeros(2), cupy.cuda.Stream(), True)
    # every stand-in has a real signature (none degraded to "accepts anything")
    for name, spec in gpu.mocks.items():
        assert inspect.signature(spec) is not None, name


# --- backend resolution ----------------------------------------------------------------------


def test_real_wheel_resolve_reaches_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only ``is_available`` faked: the first CUDA call fails, as a BackendUnavailableError."""
    monkeypatch.setattr(cupy.cuda, "is_available", lambda: True)
    try:
        b = resolve_backend("cupy", 0)
    except BackendUnavailableError as exc:  # no GPU here: a CUDA error, not a TypeError
        assert isinstance(exc.__cause__, RuntimeError), repr(exc.__cause__)
        assert "cuda" in str(exc).lower() and "GPU 0" in str(exc)
    else:  # a real GPU
        assert b.name == "cupy" and b.device.id == 0


def test_real_wheel_allocation_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    """The device selection faked, the trial allocation is CuPy 14's real ``cupy.empty``."""
    devices = SimpleNamespace(current=0, stack=[])  # what FakeDevice needs of a FakeGpu
    real_empty, seen = cupy.empty, []

    def empty_on_current_device(*args: Any, **kwargs: Any) -> Any:
        seen.append(devices.current)
        return real_empty(*args, **kwargs)

    empty = checked(real_empty, empty_on_current_device)
    select = checked(cupy.cuda.Device, lambda device=None: FakeDevice(devices, device))
    monkeypatch.setattr(cupy.cuda, "is_available", lambda: True)
    monkeypatch.setattr(cupy.cuda, "Device", select)
    monkeypatch.setattr(cupy, "empty", empty)
    try:
        resolve_backend("cupy", 1)
    except BackendUnavailableError as exc:  # no GPU: the real allocation's CUDA error
        assert isinstance(exc.__cause__, RuntimeError), repr(exc.__cause__)
    empty.assert_called_once_with((0,), dtype=cupy.float32)
    assert seen == [1] and devices.current == 0


def test_no_gpu_message_keeps_the_cuda_reason(
    gpu: FakeGpu, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cupy.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="sees 0 devices"):
        resolve_backend("cupy")
    gpu.mocks["runtime.getDeviceCount"].assert_called_once_with()


def test_resolve_backend_selects_the_device(gpu: FakeGpu) -> None:
    import array_api_compat.cupy as compat_cupy

    b = resolve_backend("cupy", 1)
    assert b.name == "cupy" and b.xp is compat_cupy and b.device == FakeDevice(gpu, 1)
    assert gpu.allocations == [("empty", 1)]
    assert resolve_backend(compat_cupy).device.id == 0  # the current device
    assert resolve_backend(b) is b
    assert resolve_backend("cupy", b.device).device.id == 1
    with pytest.raises(ValueError, match="GPU number"):
        resolve_backend("cupy", "second")


# --- Network, persistence ----------------------------------------------------------------------


def test_network_asarray_of_cupy_arrays(gpu: FakeGpu) -> None:
    net = Network([4, 3, 2], backend="cupy", device=1, seed=0)
    ref = Network([4, 3, 2], seed=0)
    for got, want in zip(net.get_weights()[0], ref.get_weights()[0], strict=True):
        np.testing.assert_array_equal(got, want)
    X = FakeArray(gpu, np.arange(20.0).reshape(5, 4), 0)  # float64 on GPU 0, net on GPU 1
    out = net.asarray(X)
    assert isinstance(out, FakeArray) and out.dtype == np.float32 and out.device_id == 1
    np.testing.assert_array_equal(to_numpy(out), np.arange(20.0, dtype=np.float32).reshape(5, 4))
    assert gpu.mocks["ndarray.get"].called
    assert isinstance(net.asarray(np.ones((2, 4))), FakeArray)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(X)  # the stand-in refuses it, like CuPy
    _on_device(gpu, 1)


def test_persistence_on_the_gpu(gpu: FakeGpu, tmp_path: Path) -> None:
    net = Network([6, 5, 3], backend="cupy", device=1, seed=3)
    path = save_network(net, tmp_path / "m.npz")
    host = load_network(path, "numpy")
    back = load_network(path, "cupy", device=1)
    for a, b, c in zip(
        net.get_weights()[0], host.get_weights()[0], back.get_weights()[0], strict=True
    ):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert all(isinstance(W, FakeArray) and W.device_id == 1 for W in back.weights)
    optimizer = SGD(0.1)
    ck = save_checkpoint(tmp_path / "c.npz", net, optimizer, epoch=2, rng_state={}, state={})
    assert load_checkpoint(ck, back, optimizer)["epoch"] == 2
    _on_device(gpu, 1)


# --- batches ---------------------------------------------------------------------------------


def _data(n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def _host_batches(it: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(to_numpy(X), to_numpy(Y)) for X, Y in it]


@pytest.mark.parametrize("budget", [None, 2 * 16 * 784], ids=["resident", "streamed"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_on_the_gpu_match_numpy(gpu: FakeGpu, budget: int | None, shuffle: bool) -> None:
    images, labels = _data()
    kwargs = dict(batch_size=8, seed=5, shuffle=shuffle, memory_budget=budget)
    it = BatchIterator(images, labels, backend="cupy", device=1, **kwargs)
    ref = BatchIterator(images, labels, **kwargs)
    assert it.resident is (budget is None)
    for _ in range(2):  # two epochs: the streamer's buffers are reused
        got, want = _host_batches(it), _host_batches(ref)
        assert len(got) == len(want) == 7
        for (gx, gy), (wx, wy) in zip(got, want, strict=True):
            np.testing.assert_array_equal(gx, wx)
            np.testing.assert_array_equal(gy, wy)
    if budget is not None:
        streamer = it._cupy_stream
        assert streamer is not None and streamer._copy_stream.non_blocking
        copies = gpu.mocks["ndarray.set"].call_args_list
        assert copies and all(c.kwargs["stream"] is streamer._copy_stream for c in copies)
    _on_device(gpu, 1)


def test_abandoned_streamed_epoch_synchronises_the_copy_stream(gpu: FakeGpu) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=8, backend="cupy", memory_budget=2 * 16 * 784)
    sync = gpu.mocks["Stream.synchronize"]
    epoch = iter(it)
    next(epoch)  # chunk 0 consumed, chunk 1 in flight on the copy stream
    copy_stream = it._cupy_stream._copy_stream
    sync.reset_mock()
    epoch.close()
    sync.assert_called_once_with(copy_stream)
    sync.reset_mock()
    with pytest.raises(KeyError):
        for _ in it:
            raise KeyError("the consumer fails mid-epoch")
    sync.assert_called_with(copy_stream)


# --- benchmarks/gpu_speed.py ---------------------------------------------------------------------


def test_gpu_speed_cupy_calls(gpu: FakeGpu) -> None:
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    monkey_path = [str(bench), *sys.path]
    with mock.patch.object(sys, "path", monkey_path):
        import gpu_speed
    assert gpu_speed.gpu_available() == (True, "")
    info = gpu_speed.gpu_info()
    assert info["name"] == "Fake GPU" and info["compute_capability"] == "90"
    assert gpu_speed.cupy_matmul_peak(n=8) == pytest.approx(2 * 8**3 / 1e-3 / 1e9)
    bench_call = gpu.mocks["cupyx.profiler.benchmark"].call_args
    assert bench_call.args[0] is cupy.matmul and bench_call.kwargs == {
        "n_repeat": 20,
        "n_warmup": 3,
    }
    assert gpu_speed.cupy_timer(lambda: None) == pytest.approx(2.5e-3)
    assert backend_mod.is_cupy(resolve_backend("cupy").xp)
