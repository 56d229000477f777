"""The standard image sets ``mnist``, ``fashion_mnist`` and ``cifar10``, downloaded on first use.

Three jobs, one module each, all usable headless and off the GUI thread:

* ``specs``: what each set is, as frozen data (files, mirrors, published checksums, class
  names, image shape, official sizes) and where its files live (``data_folder()``:
  ``$NETWRIGHT_DATA`` or the user's cache folder). Known without network or disk, so shape
  inference can use it.
* ``download``: ``ensure(name)`` fetches missing files, atomically, resumably, verified against
  the checksums, with progress reports and a cancel flag, and fails within seconds offline with
  a ``DownloadError`` that says where to put the files by hand.
* ``formats``: ``load(name)`` parses the official files with numpy (gzipped IDX, the CIFAR-10
  binary tar read in memory); nothing is unpickled and nothing extracted to disk.

Typical use::

    folder = ensure("mnist", progress=lambda p: print("\\r" + progress_line(p), end=""))
    data = load("mnist")            # data.x_train: (60000, 1, 28, 28) uint8

Errors are ``StandardSetError`` subclasses, themselves ``runtime.errors.DataError``.
"""

from __future__ import annotations

from .download import DEFAULT_TIMEOUT, Cancel, Progress, ProgressCallback, ensure, progress_line
from .errors import (
    ChecksumError,
    DownloadCancelled,
    DownloadError,
    MissingFilesError,
    SetFileError,
    StandardSetError,
    UnknownSetError,
)
from .formats import StandardSet, is_downloaded, load, missing_files, read_cifar_tar, read_idx
from .specs import (
    DATA_ENV,
    NAMES,
    SETS,
    Checksum,
    Layout,
    Role,
    SetFile,
    SetSpec,
    data_folder,
    set_folder,
    spec,
)

__all__ = [
    "DATA_ENV", "DEFAULT_TIMEOUT", "NAMES", "SETS", "Cancel", "Checksum", "ChecksumError",
    "DownloadCancelled", "DownloadError", "Layout", "MissingFilesError", "Progress",
    "ProgressCallback", "Role", "SetFile", "SetFileError", "SetSpec", "StandardSet",
    "StandardSetError", "UnknownSetError", "data_folder", "ensure", "is_downloaded", "load",
    "missing_files", "progress_line", "read_cifar_tar", "read_idx", "set_folder", "spec",
]

