"""Reading the standard sets' official files into numpy arrays: no pickle, no torchvision.

* IDX (MNIST, Fashion-MNIST): a gzipped file of a big-endian header (magic number ``0x0803``
  for images, ``0x0801`` for labels, then one uint32 per dimension) and uint8 data.
  :func:`read_idx` checks the magic number, the dimensions and that the data are exactly as
  long as the header says (a truncated file, or one with bytes after its data, is refused).
* CIFAR-10 binary: a tar.gz with ``cifar-10-batches-bin/data_batch_1.bin`` .. ``_5.bin`` and
  ``test_batch.bin``; each record is 1 label byte and 3072 pixel bytes (1024 red, 1024 green,
  1024 blue, row-major). :func:`read_cifar_tar` streams the tar once and reads the six batches
  into memory; nothing is extracted to disk.

Any number of images is accepted (tests use 20), up to ``MAX_IMAGES`` per file, which bounds the
memory a hostile header can claim. Every failure is a ``SetFileError`` naming the file (and
the tar member). Only regular files are opened.

``load(name)`` reads a set whose files ``ensure`` has fetched and returns a ``StandardSet``:
images ``(N, C, H, W)`` uint8 as published (scaling is the data pipeline's job), labels int64
``(N,)`` in ``[0, classes)``. The validation split is taken from the training images later.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from .errors import MissingFilesError, SetFileError
from .specs import Layout, Role, SetSpec, set_folder, spec

MAX_IMAGES = 1_000_000  # per file; the official files hold at most 60000
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
CIFAR_FOLDER = "cifar-10-batches-bin"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch.bin"
CIFAR_RECORD = 1 + 3 * 32 * 32
_READ_ERRORS = (OSError, EOFError, zlib.error, tarfile.TarError)  # gzip.BadGzipFile is an OSError


@dataclass
class StandardSet:
    name: str
    x_train: np.ndarray  # (N, C, H, W) uint8
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    shape: tuple[int, int, int]  # one image: (C, H, W)


def load(name: str, folder: str | os.PathLike[str] | None = None) -> StandardSet:
    """Read set ``name`` from ``set_folder(name, folder)``; never downloads (``ensure`` does).

    Raises ``MissingFilesError`` naming the folder and the absent files, ``SetFileError`` for a
    file that is not in its official format.
    """
    s = spec(name)
    where = set_folder(name, folder)
    missing = missing_files(name, folder)
    if missing:
        raise MissingFilesError(f"{s.title} is not downloaded: {', '.join(missing)} missing in {where}",
                                folder=where, files=missing)
    if s.layout is Layout.IDX_GZ:
        arrays = _load_idx_set(s, where)
    else:
        arrays = read_cifar_tar(where / s.file(Role.ARCHIVE).name, classes=len(s.class_names))
    x_train, y_train, x_test, y_test = arrays
    return StandardSet(s.name, x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                       s.class_names, s.shape)


def missing_files(name: str, folder: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The names of set ``name``'s files not yet in its folder. Nothing is read or hashed, so
    the designer can say "downloads 170 MB on the first run" before a run, offline or not."""
    where = set_folder(name, folder)
    return tuple(f.name for f in spec(name).files if not (where / f.name).is_file())


def is_downloaded(name: str, folder: str | os.PathLike[str] | None = None) -> bool:
    return not missing_files(name, folder)


def _load_idx_set(s: SetSpec, where: Path) -> tuple[np.ndarray, ...]:
    channels, rows, cols = s.shape
    out = []
    for images, labels in ((Role.TRAIN_IMAGES, Role.TRAIN_LABELS), (Role.TEST_IMAGES, Role.TEST_LABELS)):
        x_path, y_path = where / s.file(images).name, where / s.file(labels).name
        x = read_idx(x_path, IDX_IMAGES_MAGIC, (None, rows, cols))
        y = read_idx(y_path, IDX_LABELS_MAGIC, (None,))
        if len(x) != len(y):
            raise SetFileError(f"'{x_path}' holds {len(x)} images but '{y_path}' holds {len(y)} labels",
                               path=y_path)
        _check_labels(y, len(s.class_names), y_path)
        out += [x.reshape(len(x), channels, rows, cols), y]
    return tuple(out)


def _check_labels(labels: np.ndarray, classes: int, path: Path, member: str = "") -> None:
    if len(labels) and int(labels.max()) >= classes:
        at = int(np.argmax(labels >= classes))
        where = f"'{path}'" + (f" member {member}" if member else "")
        raise SetFileError(f"{where}: label {int(labels[at])} at item {at}; the set has {classes} classes "
                           f"(0 to {classes - 1})", path=path)


# ------------------------------------------------------------------ IDX


def read_idx(path: str | os.PathLike[str], magic: int, dims: tuple[int | None, ...]) -> np.ndarray:
    """The uint8 array of a gzipped IDX file whose header must carry ``magic`` and dimensions
    ``dims`` (``None``: any count, at most ``MAX_IMAGES``)."""
    path = Path(path)
    try:
        with _open_regular(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as fh:
            shape = _idx_header(fh, path, magic, dims)
            data = _read_array(fh, math.prod(shape), path, "")
            if fh.read(1):
                raise SetFileError(f"'{path}' has bytes after the {math.prod(shape)} its header declares "
                                   f"for shape {shape}", path=path)
    except _READ_ERRORS as exc:
        raise SetFileError(f"'{path}' is not a readable gzip file: {exc}", path=path) from None
    return data.reshape(shape)


def _idx_header(fh: BinaryIO, path: Path, magic: int, dims: tuple[int | None, ...]) -> tuple[int, ...]:
    header = fh.read(4 + 4 * len(dims))
    if len(header) < 4 + 4 * len(dims):
        raise SetFileError(f"'{path}' ends inside its IDX header ({len(header)} bytes)", path=path)
    got, *shape = struct.unpack(f">{1 + len(dims)}I", header)
    if got != magic:
        raise SetFileError(f"'{path}' is not an IDX file of {len(dims)}-dimensional unsigned bytes: magic "
                           f"number 0x{got:08x}, expected 0x{magic:08x}", path=path)
    for axis, (want, have) in enumerate(zip(dims, shape)):
        if want is not None and have != want:
            raise SetFileError(f"'{path}': dimension {axis} is {have}, expected {want}", path=path)
    if shape[0] > MAX_IMAGES:
        raise SetFileError(f"'{path}' declares {shape[0]} items; at most {MAX_IMAGES} are read", path=path)
    return tuple(shape)


def _read_array(fh: BinaryIO, size: int, path: Path, member: str) -> np.ndarray:
    """Exactly ``size`` bytes from ``fh`` into a new writable uint8 array."""
    data = np.empty(size, dtype=np.uint8)
    view = memoryview(data)
    done = 0
    while done < size:
        n = fh.readinto(view[done:])
        if not n:
            where = f"'{path}'" + (f" member {member}" if member else "")
            raise SetFileError(f"{where} is truncated: {done} of {size} data bytes", path=path)
        done += n
    return data


def _open_regular(path: Path) -> BinaryIO:
    """Open a regular file (a FIFO or a device would block or never end): checked on the
    descriptor, so a swap after a check cannot sneak one in."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SetFileError(f"cannot open '{path}': {exc.strerror or exc}", path=path) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SetFileError(f"'{path}' is not a regular file", path=path)
    return os.fdopen(fd, "rb")


# ------------------------------------------------------------------ CIFAR-10 binary


def read_cifar_tar(path: str | os.PathLike[str], classes: int = 10) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` from the CIFAR-10 binary tar.gz: images
    ``(N, 3, 32, 32)`` uint8, labels ``(N,)`` uint8; training batches in order 1 to 5."""
    path = Path(path)
    try:
        batches = _read_cifar_batches(path)
    except _READ_ERRORS as exc:
        raise SetFileError(f"'{path}' is not a readable tar.gz file: {exc}", path=path) from None
    missing = [b for b in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH) if b not in batches]
    if missing:
        raise SetFileError(f"'{path}' lacks {', '.join(f'{CIFAR_FOLDER}/{b}' for b in missing)}", path=path)
    for name, (_, labels) in batches.items():
        _check_labels(labels, classes, path, name)
    x_train = np.concatenate([batches[b][0] for b in CIFAR_TRAIN_BATCHES])
    y_train = np.concatenate([batches[b][1] for b in CIFAR_TRAIN_BATCHES])
    return x_train, y_train, *batches[CIFAR_TEST_BATCH]


def _read_cifar_batches(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    # "r|gz" streams: one pass over the archive, members read in the order they come.
    with _open_regular(path) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for member in tar:
            batch = _cifar_member(member, path)
            if batch is None:
                continue
            if batch in batches:
                raise SetFileError(f"'{path}' holds {member.name} twice", path=path)
            batches[batch] = _read_cifar_batch(tar, member, path)
    return batches


def _cifar_member(member: tarfile.TarInfo, path: Path) -> str | None:
    """The batch that ``member`` holds, ``None`` for anything else that is harmless (the
    folder, ``batches.meta.txt``, ``readme.html``); refuses unsafe members by name.

    NOTE: [unsafe members] nothing is ever extracted, so a '../' name or a link could not
    escape; it is refused anyway because no official archive has one: it means a wrong file.
    """
    name = member.name
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name or "\x00" in name:
        raise SetFileError(f"'{path}' has a member with an unsafe name: {name!r}", path=path)
    if not (member.isfile() or member.isdir()):
        kind = "a link" if member.issym() or member.islnk() else "not a regular file"
        raise SetFileError(f"'{path}' member {name!r} is {kind}; only files and folders are accepted", path=path)
    parent, batch = pure.parent.as_posix(), pure.name
    if member.isfile() and parent == CIFAR_FOLDER and batch in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH):
        return batch
    return None


def _read_cifar_batch(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> tuple[np.ndarray, np.ndarray]:
    size = member.size
    if size == 0 or size % CIFAR_RECORD:
        raise SetFileError(f"'{path}' member {member.name} has {size} bytes, not a whole number of "
                           f"{CIFAR_RECORD}-byte records", path=path)
    if size // CIFAR_RECORD > MAX_IMAGES:
        raise SetFileError(f"'{path}' member {member.name} holds more than {MAX_IMAGES} images", path=path)
    fh = tar.extractfile(member)
    if fh is None:  # not reachable after _cifar_member, kept for the type checker
        raise SetFileError(f"'{path}' member {member.name} cannot be read", path=path)
    records = _read_array(fh, size, path, member.name).reshape(-1, CIFAR_RECORD)
    return np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32), records[:, 0].copy()
