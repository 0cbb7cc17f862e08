"""Downloads through a real HTTP server on 127.0.0.1, started by the tests.

The server serves synthetic MNIST-format ``.gz`` files written by the tests; the loader is
given the server's URLs as mirrors and the synthetic files' SHA-256 as checksums.  Each
mirror is a path prefix on the one server whose behaviour the test chooses: serve the
files, answer 404, serve wrong bytes, announce more bytes than it sends and then close the
connection, or stall.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.data import (
    MNIST_FILES,
    ChecksumError,
    DownloadError,
    MNISTNotFoundError,
    datasets,
    download_mnist,
    load_mnist,
)
from anyarray_nn.data.mnist_files import ArchiveDigest

N_TRAIN, N_TEST = 10, 5


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


ARRAYS = _arrays()
RAW = {stem: _idx_bytes(a) for stem, a in ARRAYS.items()}
GZ = {f"{stem}.gz": gzip.compress(data, mtime=0) for stem, data in RAW.items()}
SUMS = {stem: hashlib.sha256(data).hexdigest() for stem, data in RAW.items()}


class _Handler(BaseHTTPRequestHandler):
    """``/<mode>/<file>``: ``good``, ``missing`` (404), ``wrong`` (other MNIST-format
    bytes), ``recompressed`` (the right IDX bytes, another .gz), ``garbage`` (not
    gzip/IDX), ``dies`` (Content-Length larger than what is sent, then close), ``stall``
    (sleeps before answering)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        _, mode, name = self.path.split("/", 2)
        body = GZ.get(name)
        if body is None or mode == "missing":
            self._send(404, b"not found")
            return
        if mode == "good":
            self._send(200, body)
        elif mode == "wrong":
            # Valid gzip + IDX of the right kind, but other content: only the SHA-256 tells.
            other = bytearray(RAW[name[:-3]])
            other[-1] ^= 0xFF
            self._send(200, gzip.compress(bytes(other), mtime=0))
        elif mode == "recompressed":  # the same IDX bytes in another gzip stream
            self._send(200, gzip.compress(RAW[name[:-3]], compresslevel=1, mtime=1))
        elif mode == "garbage":
            self._send(200, b"<html>a captive portal</html>")
        elif mode == "dies":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif mode == "trickle":  # one byte every 0.2 s, with an honest length
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._trickle(body)
        elif mode == "endless":  # no Content-Length: bytes until the client hangs up
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._endless()
        elif mode == "huge":  # announces 10 GB
            self.send_response(200)
            self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            self.close_connection = True
        elif mode == "stall":
            time.sleep(1.0)
            self._send(200, body)
        else:
            self._send(400, b"bad mode")

    def _trickle(self, body: bytes) -> None:
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client gave up

    def _endless(self) -> None:
        chunk = bytes(1 << 16)
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:
            pass

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _url(server: _Server, mode: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/{mode}/"


@pytest.fixture
def dead_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real data set, no user cache, and no proxy between us and 127.0.0.1."""
    monkeypatch.delenv("ANYARRAY_NN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _listing(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------------------
# success
# --------------------------------------------------------------------------------------


def test_download_success(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mnist"
    result = download_mnist(folder, mirrors=[_url(server, "good")], checksums=SUMS, progress=True)
    assert result == folder
    assert _listing(folder) == sorted(f"{stem}.gz" for stem in MNIST_FILES)
    for name, body in GZ.items():
        assert (folder / name).read_bytes() == body
    # the progress bar (tqdm) went to stderr, one per file
    err = capsys.readouterr().err
    for stem in MNIST_FILES:
        assert f"{stem}.gz" in err
    # everything present: a second call downloads nothing
    before = len(server.requests)
    download_mnist(folder, mirrors=[_url(server, "good")], checksums=SUMS)
    assert len(server.requests) == before


def test_load_mnist_downloads_into_folder_and_cache(server: _Server, tmp_path: Path) -> None:
    mnist = load_mnist(tmp_path / "given", mirrors=[_url(server, "good")], checksums=SUMS)
    assert mnist.source == tmp_path / "given"
    for key, stem in zip(
        ("train_images", "train_labels", "test_images", "test_labels"), MNIST_FILES, strict=True
    ):
        np.testing.assert_array_equal(getattr(mnist, key), ARRAYS[stem])
    # No folder given and no ANYARRAY_NN_DATA: the per-user cache, downloaded on first use.
    cached = load_mnist(mirrors=_url(server, "good"), checksums=SUMS, progress=False)
    assert cached.source == tmp_path / "xdg-cache" / "anyarray_nn" / "mnist"
    assert len(_listing(cached.source)) == 4


def test_only_missing_files_are_downloaded(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(RAW["train-images-idx3-ubyte"])
    start = len(server.requests)
    download_mnist(folder, mirrors=[_url(server, "good")], checksums=SUMS)
    fetched = [p.rsplit("/", 1)[1] for p in server.requests[start:]]
    assert fetched == [f"{stem}.gz" for stem in MNIST_FILES[1:]]


# --------------------------------------------------------------------------------------
# failures leave nothing behind
# --------------------------------------------------------------------------------------


def test_checksum_mismatch_leaves_no_file(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError) as info:
        download_mnist(folder, mirrors=[_url(server, "wrong")], checksums=SUMS)
    error = info.value
    assert error.name == "train-images-idx3-ubyte.gz"
    assert len(error.failures) == 1
    url, why = error.failures[0]
    assert url == _url(server, "wrong") + "train-images-idx3-ubyte.gz"
    assert "checksum mismatch" in why and SUMS["train-images-idx3-ubyte"] in why
    assert "checksum mismatch" in str(error)
    assert _listing(folder) == []


def test_server_dying_mid_transfer_leaves_no_file(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError) as info:
        download_mnist(folder, mirrors=[_url(server, "dies")], checksums=SUMS)
    (_, why), *_ = info.value.failures
    size = len(GZ["train-images-idx3-ubyte.gz"])
    assert why == f"interrupted: connection closed after {size // 2} of {size} bytes"
    assert _listing(folder) == []


def test_garbage_response_leaves_no_file(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError, match=r"not a valid IDX file: bad magic number"):
        download_mnist(folder, mirrors=[_url(server, "garbage")], checksums=SUMS)
    assert _listing(folder) == []


def test_stalled_server_times_out(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError, match=r": timed out\n"):
        download_mnist(folder, mirrors=[_url(server, "stall")], checksums=SUMS, timeout=0.2)
    assert _listing(folder) == []


def test_load_mnist_failure_leaves_no_file(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "given"
    with pytest.raises(DownloadError):
        load_mnist(folder, mirrors=[_url(server, "dies")], checksums=SUMS)
    assert _listing(folder) == []


# --------------------------------------------------------------------------------------
# mirrors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["dead", "missing", "wrong", "dies", "garbage"])
def test_fallback_to_next_mirror(
    server: _Server, tmp_path: Path, first: str, dead_url: str
) -> None:
    folder = tmp_path / "mnist"
    bad = dead_url if first == "dead" else _url(server, first)
    mnist = load_mnist(folder, mirrors=[bad, _url(server, "good")], checksums=SUMS)
    np.testing.assert_array_equal(mnist.train_images, ARRAYS["train-images-idx3-ubyte"])
    assert _listing(folder) == sorted(f"{stem}.gz" for stem in MNIST_FILES)


def test_mirror_that_worked_is_tried_first(server: _Server, tmp_path: Path) -> None:
    start = len(server.requests)
    download_mnist(
        tmp_path / "m", mirrors=[_url(server, "missing"), _url(server, "good")], checksums=SUMS
    )
    modes = [p.split("/")[1] for p in server.requests[start:]]
    # The first file falls back to the good mirror; the others go there directly.
    assert modes == ["missing", "good", "good", "good", "good"]


def test_every_mirror_failing_lists_each_failure(
    server: _Server, tmp_path: Path, dead_url: str
) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError) as info:
        download_mnist(
            folder,
            mirrors=[dead_url, _url(server, "missing"), _url(server, "dies")],
            checksums=SUMS,
        )
    whys = [why for _, why in info.value.failures]
    assert len(whys) == 3
    assert whys[0].startswith("cannot connect")
    assert whys[1] == "HTTP 404 Not Found"
    assert "connection closed" in whys[2]
    assert _listing(folder) == []


def test_no_network_error_says_how_to_use_local_files(tmp_path: Path, dead_url: str) -> None:
    with pytest.raises(DownloadError) as info:
        load_mnist(tmp_path / "m", mirrors=[dead_url], checksums=SUMS)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    for hint in ("ANYARRAY_NN_DATA", "data_dir", "--data-dir"):
        assert hint in message
    assert isinstance(info.value, OSError)


def test_mirrors_are_checked() -> None:
    with pytest.raises(ValueError, match="not an http"):
        download_mnist("unused", mirrors=["ftp://example.org/mnist/"])
    with pytest.raises(ValueError, match="at least one"):
        download_mnist("unused", mirrors=[])


def test_env_var_folder_is_never_downloaded_into(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("ANYARRAY_NN_DATA", str(empty))
    start = len(server.requests)
    with pytest.raises(MNISTNotFoundError, match="ANYARRAY_NN_DATA"):
        load_mnist(mirrors=[_url(server, "good")], checksums=SUMS)
    assert server.requests[start:] == []
    assert _listing(empty) == []


# --------------------------------------------------------------------------------------
# hostile servers: a deadline and a size cap (issue 13, finding 3)
# --------------------------------------------------------------------------------------


def test_trickling_server_stops_at_the_deadline(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline of 1 s"):
        download_mnist(folder, mirrors=[_url(server, "trickle")], checksums=SUMS, deadline=1.0)
    assert time.monotonic() - start < 3.0
    assert _listing(folder) == []


def test_endless_response_without_length_is_capped(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError, match="more than the 1000000-byte cap"):
        download_mnist(folder, mirrors=[_url(server, "endless")], checksums=SUMS, max_bytes=10**6)
    assert _listing(folder) == []


def test_default_cap_of_a_file_of_unknown_size(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anyarray_nn.data import download

    monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", 500_000)
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError, match="more than the 500000-byte cap"):
        download_mnist(folder, mirrors=[_url(server, "endless")], checksums=SUMS)
    assert _listing(folder) == []


def test_announced_length_above_the_cap_is_refused_at_once(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    with pytest.raises(DownloadError, match="announces 10737418240 bytes"):
        download_mnist(folder, mirrors=[_url(server, "huge")])  # the original MNIST's cap
    assert _listing(folder) == []


# --------------------------------------------------------------------------------------
# data sets verified by their archives as published (KMNIST)
# --------------------------------------------------------------------------------------

ARCHIVES = {
    stem: ArchiveDigest(len(GZ[f"{stem}.gz"]), hashlib.sha256(GZ[f"{stem}.gz"]).hexdigest())
    for stem in MNIST_FILES
}
NO_SUMS = dict.fromkeys(MNIST_FILES)  # no digest of the decompressed bytes


def test_archive_digests_check_the_bytes_as_served(server: _Server, tmp_path: Path) -> None:
    folder = download_mnist(
        tmp_path / "k", mirrors=[_url(server, "good")], checksums=NO_SUMS, archives=ARCHIVES
    )
    assert all((folder / name).read_bytes() == body for name, body in GZ.items())
    # The same IDX bytes in another gzip stream are not the archive as published.
    with pytest.raises(DownloadError, match="archive as served") as info:
        download_mnist(
            tmp_path / "r",
            mirrors=[_url(server, "recompressed")],
            checksums=NO_SUMS,
            archives=ARCHIVES,
        )
    assert ARCHIVES["train-images-idx3-ubyte"].sha256 in str(info.value)
    assert _listing(tmp_path / "r") == []


def test_archive_size_is_the_download_cap(server: _Server, tmp_path: Path) -> None:
    size = ARCHIVES["train-images-idx3-ubyte"].size
    with pytest.raises(DownloadError, match=f"more than the {size}-byte cap"):
        download_mnist(
            tmp_path / "k", mirrors=[_url(server, "endless")], checksums=NO_SUMS, archives=ARCHIVES
        )
    assert _listing(tmp_path / "k") == []


def test_unverified_download_of_a_named_set(server: _Server, tmp_path: Path) -> None:
    # No digest at all (a set loaded with verify=False): format checks only, no crash.
    folder = download_mnist(
        tmp_path / "u", mirrors=[_url(server, "recompressed")], checksums=NO_SUMS
    )
    assert len(_listing(folder)) == 4


@pytest.fixture
def kmnist_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The KMNIST entry of the catalogue, with the synthetic archives' digests."""
    kmnist = dataclasses.replace(datasets.DATASETS["kmnist"], archives=ARCHIVES)
    monkeypatch.setattr(datasets, "DATASETS", {**datasets.DATASETS, "kmnist": kmnist})


@pytest.mark.usefixtures("kmnist_here")
def test_kmnist_downloads_verifies_and_loads(server: _Server, tmp_path: Path) -> None:
    data = datasets.load_dataset("kmnist", mirrors=[_url(server, "good")])
    assert data.source == tmp_path / "xdg-cache" / "anyarray_nn" / "kmnist"
    assert data.class_names[:3] == ("o", "ki", "su")
    np.testing.assert_array_equal(data.test_images, ARRAYS["t10k-images-idx3-ubyte"])
    again = datasets.load_dataset("kmnist", download=False)  # verified again from the cache
    np.testing.assert_array_equal(again.train_labels, data.train_labels)
    # A decompressed copy cannot be checked against the archives: say so, and the way out.
    plain = tmp_path / "plain"
    plain.mkdir()
    for stem, raw in RAW.items():
        (plain / stem).write_bytes(raw)
    with pytest.raises(ChecksumError, match="only the original archive can be checked"):
        datasets.load_dataset("kmnist", plain, download=False)
    assert datasets.load_dataset("kmnist", plain, verify=False).n_classes == 10
    # Plain copies beside the archives (`gunzip -k`): the archives are read, and verified.
    for name, body in GZ.items():
        (plain / name).write_bytes(body)
    both = datasets.load_dataset("kmnist", plain, download=False)
    np.testing.assert_array_equal(both.train_images, ARRAYS["train-images-idx3-ubyte"])


def test_failed_download_of_a_named_set_says_how_to_use_its_files(
    tmp_path: Path, dead_url: str
) -> None:
    with pytest.raises(DownloadError) as info:
        datasets.load_dataset("fashion-mnist", mirrors=[dead_url])
    message = str(info.value)
    assert "--dataset fashion-mnist --data-dir" in message and "ANYARRAY_NN_DATA" not in message
    # Nothing is left in the cache, not even the set's folder.
    assert _listing(tmp_path / "xdg-cache" / "anyarray_nn") == []
