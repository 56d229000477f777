"""Errors of the standard image sets. All are ``DataError``s (so the command line prints the
message and exits 2, and the designer shows it), and every message names the set, the file and
the folder involved; a download failure also names each URL tried and why it failed."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError


class StandardSetError(DataError):
    """Base class of this package's errors."""


class UnknownSetError(StandardSetError):
    """A name that is not one of ``NAMES``."""


class DownloadError(StandardSetError):
    """A file could not be fetched from any mirror (offline, refused, timed out, HTTP error).

    ``urls`` are the URLs tried, ``folder`` the set's folder and ``files`` the names still
    missing there: placing those files in that folder by hand is the offline way in.
    """

    def __init__(self, message: str, *, folder: Path, files: tuple[str, ...] = (),
                 urls: tuple[str, ...] = ()):
        self.folder = folder
        self.files = files
        self.urls = urls
        super().__init__(message)


class ChecksumError(DownloadError):
    """A file's checksum is not the published one. A downloaded file is removed (its ``.part``);
    a file already under its final name is left for the user to remove."""

    def __init__(self, message: str, *, folder: Path, file: str, expected: str, got: str,
                 urls: tuple[str, ...] = ()):
        self.file = file
        self.expected = expected
        self.got = got
        super().__init__(message, folder=folder, files=(file,), urls=urls)


class DownloadCancelled(DownloadError):
    """The caller cancelled; the ``.part`` file stays so that the next ``ensure`` resumes it."""


class MissingFilesError(StandardSetError):
    """``load`` was called before the files were there (``ensure`` fetches them)."""

    def __init__(self, message: str, *, folder: Path, files: tuple[str, ...]):
        self.folder = folder
        self.files = files
        super().__init__(message)


class SetFileError(StandardSetError):
    """A file is not in its official format (bad magic number, wrong dimensions, truncated,
    trailing bytes, a label out of range, an unsafe tar member); ``path`` names it."""

    def __init__(self, message: str, *, path: Path):
        self.path = path
        super().__init__(message)
