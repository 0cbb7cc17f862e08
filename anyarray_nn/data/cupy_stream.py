"""CuPy-only streaming of a data set too large for the device: the fast path of
:class:`anyarray_nn.data.BatchIterator`'s streamed mode (chosen with ``is_cupy``); the standard
path in :mod:`anyarray_nn.data.batches` is its tested reference.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from ..backend import Backend

__all__ = ["CupyStreamer"]

Array = Any


class CupyStreamer:
    """CuPy-only streaming: pinned host buffers, async copies on a side stream.

    Two pinned host buffers and two device buffers of ``chunk_rows`` rows.  While the
    batches of chunk ``i`` are consumed on the current stream, chunk ``i + 1`` is gathered
    on the host into the other pinned buffer and copied asynchronously on ``copy_stream``.
    Events keep buffers from being overwritten while in use:

    * ``copied[j]`` (on the copy stream, after the copy into slot ``j``): the compute
      stream waits on it before using device buffer ``j``; the host waits on it before
      rewriting pinned buffer ``j``.
    * ``consumed[j]`` (on the compute stream, after the last batch of slot ``j`` was
      converted): the copy stream waits on it before overwriting device buffer ``j``.

    Batches handed out are fresh arrays (``astype``), so only those conversions, which
    are ordered on the compute stream before ``consumed[j]``, read device buffer ``j``.
    """

    def __init__(self, host_x: np.ndarray, chunk_rows: int, backend: Backend) -> None:
        import cupy
        import cupyx

        self._cupy = cupy
        self._host_x = host_x
        self._device = backend.device
        d = int(host_x.shape[1])
        with self._device:
            self._pinned = [cupyx.empty_pinned((chunk_rows, d), dtype=np.uint8) for _ in "ab"]
            self._dev = [cupy.empty((chunk_rows, d), dtype=cupy.uint8) for _ in "ab"]
            self._copy_stream = cupy.cuda.Stream(non_blocking=True)
            self._copied = [cupy.cuda.Event(disable_timing=True) for _ in "ab"]
            self._consumed = [cupy.cuda.Event(disable_timing=True) for _ in "ab"]
            self._chunk_rows = chunk_rows
            for j in range(2):  # start "done" so the first waits return immediately
                self._copied[j].record(self._copy_stream)
                self._consumed[j].record()

    def _submit(self, slot: int, perm: np.ndarray | None, c0: int, c1: int) -> None:
        m = c1 - c0
        self._copied[slot].synchronize()  # the previous copy out of this pinned buffer
        pinned = self._pinned[slot][:m]
        if perm is None:
            np.copyto(pinned, self._host_x[c0:c1])
        else:
            # mode="clip": indices are a valid permutation, and "raise" would buffer `out`
            np.take(self._host_x, perm[c0:c1], axis=0, out=pinned, mode="clip")
        with self._device:
            self._copy_stream.wait_event(self._consumed[slot])
            self._dev[slot][:m].set(pinned, stream=self._copy_stream)
            self._copied[slot].record(self._copy_stream)

    def chunks(
        self, perm: np.ndarray | None, n_used: int
    ) -> Generator[tuple[int, int, Array], None, None]:
        """The epoch's chunks ``(c0, c1, device rows c0:c1)``, the next one prefetched.

        However the generator ends (exhausted, closed early, or an exception in the
        consumer), it waits for the copy stream before returning: no asynchronous copy
        outlives the epoch or reads a pinned buffer that is about to be rewritten or freed.
        """
        starts = list(range(0, n_used, self._chunk_rows))
        bounds = [(c0, min(c0 + self._chunk_rows, n_used)) for c0 in starts]
        if not bounds:
            return
        try:
            self._submit(0, perm, *bounds[0])
            for i, (c0, c1) in enumerate(bounds):
                slot = i % 2
                if i + 1 < len(bounds):  # prefetch: host gather + async copy of the next chunk
                    self._submit(1 - slot, perm, *bounds[i + 1])
                with self._device:
                    self._cupy.cuda.get_current_stream().wait_event(self._copied[slot])
                try:
                    yield c0, c1, self._dev[slot][: c1 - c0]
                finally:  # every batch read from this slot has been enqueued (also on break)
                    with self._device:
                        self._consumed[slot].record()
        finally:
            self._copy_stream.synchronize()
