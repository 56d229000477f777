"""A local mirror for the standard-set tests, and tiny files in the official formats.

``FakeMirror`` is a threading ``http.server`` on 127.0.0.1 (port 0) that serves bytes from a
dict, honours ``Range: bytes=N-`` (or ignores it, as some servers do), can cut a connection after
K bytes once, and records every request. ``SilentServer`` accepts connections (the kernel
completes them from the listen backlog) and never answers; ``closed_port_url()`` names a port
nobody listens on. Nothing here reaches beyond 127.0.0.1.

The writers produce files in the published layouts with any number of images, so the parsers
are tested on the real formats at a size that takes milliseconds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import struct
import tarfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

MNIST_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR_NAME = "cifar-10-binary.tar.gz"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ servers


@dataclass
class Seen:
    path: str
    range: str | None


@dataclass
class FakeMirror:
    files: dict[str, bytes]
    ignore_range: bool = False
    cut_after: dict[str, int] = field(default_factory=dict)  # name -> bytes sent before a cut, once
    requests: list[Seen] = field(default_factory=list)

    def __enter__(self) -> FakeMirror:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                mirror._answer(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll lets shutdown() return at once (the default waits up to 0.5 s).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def ranges(self, name: str) -> list[str | None]:
        return [r.range for r in self.requests if r.path == "/" + name]

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        name = h.path.lstrip("/")
        asked = h.headers.get("Range")
        self.requests.append(Seen(h.path, asked))
        if name not in self.files:
            h.send_error(404)
            return
        data, start = self.files[name], 0
        if asked and not self.ignore_range:
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                h.send_error(416)
                return
        h.send_response(206 if start else 200)
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(data) - start))
        h.end_headers()
        body = data[start:]
        if name in self.cut_after:
            body = body[: self.cut_after.pop(name)]
            h.close_connection = True
        h.wfile.write(body)
        h.wfile.flush()


class SilentServer:
    """Listens and never accepts: a connection succeeds, no byte ever comes back."""

    def __enter__(self) -> SilentServer:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/"
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# ------------------------------------------------------------------ official formats


def idx(magic: int, dims: Iterable[int], payload: bytes) -> bytes:
    """A gzipped IDX file with exactly this header and payload (valid or not)."""
    dims = tuple(dims)
    return gzip.compress(struct.pack(f">{1 + len(dims)}I", magic, *dims) + payload, mtime=0)


def mnist_files(n_train: int = 20, n_test: int = 7, seed: int = 0, side: int = 28):
    """``(files, arrays)``: the four MNIST files as bytes and the arrays they hold."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, side, side), dtype=np.uint8)
    y_train = rng.integers(0, 10, n_train, dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, side, side), dtype=np.uint8)
    y_test = rng.integers(0, 10, n_test, dtype=np.uint8)
    files = {
        MNIST_NAMES[0]: idx(0x803, x_train.shape, x_train.tobytes()),
        MNIST_NAMES[1]: idx(0x801, y_train.shape, y_train.tobytes()),
        MNIST_NAMES[2]: idx(0x803, x_test.shape, x_test.tobytes()),
        MNIST_NAMES[3]: idx(0x801, y_test.shape, y_test.tobytes()),
    }
    return files, (x_train, y_train, x_test, y_test)


def cifar_batch(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Records of 1 label byte and 3072 pixel bytes, as in the binary release."""
    flat = images.reshape(len(images), -1)
    return np.concatenate([labels.reshape(-1, 1).astype(np.uint8), flat], axis=1).tobytes()


def tar_gz(members: Iterable[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    """A tar.gz of ``(name, data)`` regular files and ready-made ``TarInfo``s (links, '../')."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
                continue
            info = tarfile.TarInfo(m[0])
            info.size = len(m[1])
            tar.addfile(info, io.BytesIO(m[1]))
    return out.getvalue()


def cifar_members(per_batch: int = 3, n_test: int = 4, seed: int = 0):
    """``(members, arrays)``: the members of the official tar (with a few images per batch),
    in the official order, and the arrays they hold."""
    rng = np.random.default_rng(seed)
    folder = tarfile.TarInfo("cifar-10-batches-bin")
    folder.type = tarfile.DIRTYPE
    members: list = [folder, ("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n")]
    xs, ys = [], []
    for i in range(1, 7):
        n = per_batch if i < 6 else n_test
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        name = f"data_batch_{i}.bin" if i < 6 else "test_batch.bin"
        members.append((f"cifar-10-batches-bin/{name}", cifar_batch(x, y)))
        xs.append(x)
        ys.append(y)
    members.append(("cifar-10-batches-bin/readme.html", b"<html></html>"))
    arrays = (np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5])
    return members, arrays
