"""The standard image sets as data, and the folder where their files are kept.

One frozen ``SetSpec`` per set says everything known without a download: the official files
with their published checksums and sizes, the mirrors tried in order, the class names, the
per-image shape and the official train/test sizes. Shape inference can use ``shape`` and
``class_names`` without touching the network or the disk.

Invariants: ``SETS`` keys equal each spec's ``name`` and ``NAMES`` lists them in menu order;
every mirror ends in ``/`` and a file's URL is ``mirror + file.name``; checksums are the
published MD5 sums (torchvision's and the CIFAR page's), lower-case hex. Only the CIFAR-10
*binary* release is listed: the python release is a pickle, and nothing here is unpickled.
"""

from __future__ import annotations

import enum
import hashlib
import os
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import StandardSetError, UnknownSetError

DATA_ENV = "NETWRIGHT_DATA"  # overrides the data folder (absolute, or relative to the cwd)


class Layout(enum.Enum):
    """How a set's files hold the arrays (which parser ``load`` uses)."""

    IDX_GZ = "idx_gz"  # four gzipped IDX files: train/test images and labels
    CIFAR_BINARY = "cifar_binary"  # one tar.gz of binary batches: 1 label byte + 3072 pixels


class Role(enum.Enum):
    """What a file holds."""

    TRAIN_IMAGES = "train_images"
    TRAIN_LABELS = "train_labels"
    TEST_IMAGES = "test_images"
    TEST_LABELS = "test_labels"
    ARCHIVE = "archive"  # train and test in one file


HashName = Literal["md5", "sha256"]
_HEX_LENGTHS: dict[int, HashName] = {32: "md5", 64: "sha256"}


@dataclass(frozen=True)
class Checksum:
    algorithm: HashName
    digest: str  # lower-case hex

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """``"<hex>"`` (32 digits: MD5, 64: SHA-256) or ``"md5:<hex>"`` / ``"sha256:<hex>"``."""
        algorithm, _, digest = text.strip().lower().rpartition(":")
        guessed = _HEX_LENGTHS.get(len(digest))
        if guessed is None or (algorithm and algorithm != guessed) or set(digest) - set(string.hexdigits):
            raise StandardSetError(f"checksum {text!r} is neither 32 hex digits (MD5) nor 64 (SHA-256)")
        return cls(guessed, digest)

    def hasher(self):
        # NOTE: [md5] the published sums are MD5; it checks integrity, not authenticity, so it is
        # allowed on FIPS systems with usedforsecurity=False.
        return hashlib.new(self.algorithm, usedforsecurity=False)

    def __str__(self) -> str:
        return f"{self.algorithm} {self.digest}"


@dataclass(frozen=True)
class SetFile:
    name: str
    role: Role
    checksum: Checksum
    size: int  # published size in bytes, for "downloads 11.1 MB"; never used to accept a file


@dataclass(frozen=True)
class SetSpec:
    name: str  # the Dataset node's choice: "mnist", "fashion_mnist", "cifar10"
    title: str  # for messages and menus: "MNIST", "Fashion-MNIST", "CIFAR-10"
    layout: Layout
    files: tuple[SetFile, ...]
    mirrors: tuple[str, ...]  # base URLs, tried in order
    class_names: tuple[str, ...]
    shape: tuple[int, int, int]  # one image: channels, height, width
    train_size: int  # official training images (the validation split is taken from these later)
    test_size: int
    homepage: str

    @property
    def download_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def file(self, role: Role) -> SetFile:
        return next(f for f in self.files if f.role is role)


def _md5(hexdigest: str) -> Checksum:
    return Checksum("md5", hexdigest)


def _idx_files(md5s: tuple[str, str, str, str], sizes: tuple[int, int, int, int]) -> tuple[SetFile, ...]:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    roles = (Role.TRAIN_IMAGES, Role.TRAIN_LABELS, Role.TEST_IMAGES, Role.TEST_LABELS)
    return tuple(SetFile(n, r, _md5(m), s) for n, r, m, s in zip(names, roles, md5s, sizes))


MNIST = SetSpec(
    "mnist", "MNIST", Layout.IDX_GZ,
    _idx_files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
               (9912422, 28881, 1648877, 4542)),
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    tuple(str(d) for d in range(10)), (1, 28, 28), 60000, 10000,
    "http://yann.lecun.com/exdb/mnist/",
)

FASHION_MNIST = SetSpec(
    "fashion_mnist", "Fashion-MNIST", Layout.IDX_GZ,
    _idx_files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
               (26421880, 29515, 4422102, 5148)),
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
     "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    (1, 28, 28), 60000, 10000,
    "https://github.com/zalandoresearch/fashion-mnist",
)

CIFAR10 = SetSpec(
    "cifar10", "CIFAR-10", Layout.CIFAR_BINARY,
    (SetFile("cifar-10-binary.tar.gz", Role.ARCHIVE, _md5("c32a1d4ab5d03f1284b67883e8d87530"), 170052171),),
    ("https://www.cs.toronto.edu/~kriz/",),
    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    (3, 32, 32), 50000, 10000,
    "https://www.cs.toronto.edu/~kriz/cifar.html",
)

SETS: Mapping[str, SetSpec] = {s.name: s for s in (MNIST, FASHION_MNIST, CIFAR10)}
NAMES: tuple[str, ...] = tuple(SETS)


def spec(name: str) -> SetSpec:
    """The description of set ``name``; ``UnknownSetError`` lists the choices."""
    try:
        return SETS[name]
    except (KeyError, TypeError):
        raise UnknownSetError(f"unknown standard data set {name!r}; choose one of {', '.join(NAMES)}") from None


# ------------------------------------------------------------------ where the files live


def data_folder() -> Path:
    """The folder that holds one sub-folder per set: ``$NETWRIGHT_DATA`` if set, else
    ``netwright/data`` in the user's cache folder (XDG on Linux, ``~/Library/Caches`` on macOS,
    ``%LOCALAPPDATA%`` on Windows). Nothing is created here."""
    return _data_folder(os.environ, sys.platform, Path.home())


def _data_folder(environ: Mapping[str, str], platform: str, home: Path) -> Path:
    chosen = environ.get(DATA_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser().absolute()
    return _cache_folder(environ, platform, home) / "netwright" / "data"


def _cache_folder(environ: Mapping[str, str], platform: str, home: Path) -> Path:
    if platform == "win32":
        local = environ.get("LOCALAPPDATA", "")
        return Path(local) if local else home / "AppData" / "Local"
    if platform == "darwin":
        return home / "Library" / "Caches"
    xdg = environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    return Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"


def set_folder(name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Where set ``name`` keeps its files: ``<folder or data_folder()>/<name>``."""
    return Path(folder if folder is not None else data_folder()) / spec(name).name
