"""Fetching a standard set's files: atomic, resumable, checksum-verified, cancellable, bounded.

``ensure(name)`` makes sure that every file of the set lies in ``set_folder(name)`` with its
published checksum, and returns that folder. Each missing file is fetched from the mirrors in
order, with the standard library only (urllib):

* Atomic: bytes go to ``<file>.part``; after the last one the part is fsynced, its checksum is
  checked, and only then is it renamed to the final name (``os.replace``) and the folder fsynced.
  A file under its final name is therefore always whole and verified; a crash leaves a ``.part``.
* Resumable: an existing ``.part`` is hashed and continued with ``Range: bytes=N-``. A server
  that answers 200 (it ignores Range) is read from the start over the part. A 416, a 206 for
  another range, or a checksum mismatch after a resume discards the part and starts over once.
* Verified: a mismatch removes the ``.part``; when no mirror gives the right bytes,
  ``ChecksumError`` names the file, the expected and the received checksum. A file that is
  already under its final name is hashed too (measured: MD5 of 184 MB in 0.6 s on a shared
  2-core machine) and, when wrong, left alone with an error saying so.
* Cancellable: ``cancel`` (a ``threading.Event`` or a callable returning ``True``) is checked
  before every chunk; cancelling raises ``DownloadCancelled`` and keeps the ``.part``.
* Bounded: ``getaddrinfo`` has no timeout of its own, so the host name is looked up in a
  thread joined with ``timeout``; connecting and every read use ``timeout`` too. Offline, a URL
  fails within about ``timeout`` seconds (twice that for a host with an IPv6 and an IPv4 address
  that both drop packets) and ``DownloadError`` names every URL tried, why it failed, and the
  folder where the files can be placed by hand.

Only ``http`` and ``https`` are opened (redirects to anything else fail like a dead mirror).
Local file errors (disk full, no permission) are ``StandardSetError`` at once: another mirror
would not help.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import ipaddress
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import ChecksumError, DownloadCancelled, DownloadError, StandardSetError
from .specs import DATA_ENV, Checksum, SetFile, SetSpec, set_folder, spec

DEFAULT_TIMEOUT = 5.0  # seconds for the name lookup, the connection and each read
CHUNK_BYTES = 64 * 1024  # one progress report and one cancel check per chunk
USER_AGENT = "Netwright (standard data sets)"
# Everything a dead, refusing, slow or lying mirror can raise: the next mirror is tried.
NETWORK_ERRORS = (OSError, http.client.HTTPException)


@dataclass(frozen=True)
class Progress:
    """One report while a file downloads: plain data, safe to send across threads."""

    file: str  # the file's name, e.g. "train-images-idx3-ubyte.gz"
    done: int  # bytes in hand, including those of a resumed ``.part``
    total: int | None  # the file's size when the server says it
    file_number: int  # 1-based position of this file among the set's files
    file_count: int

    @property
    def fraction(self) -> float | None:
        return min(self.done / self.total, 1.0) if self.total else None


ProgressCallback = Callable[[Progress], None]
Cancel = threading.Event | Callable[[], bool] | None


def progress_line(p: Progress, width: int = 24) -> str:
    """One line for a terminal, e.g. ``[1/4] train-images-idx3-ubyte.gz [######------] 4.9 MB /
    9.9 MB  50%``; print it after ``\\r`` to redraw in place."""
    head = f"[{p.file_number}/{p.file_count}] {p.file}"
    fraction = p.fraction
    if fraction is None:
        return f"{head} {_megabytes(p.done)}"
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    return f"{head} [{bar}] {_megabytes(p.done)} / {_megabytes(p.total or 0)} {fraction:4.0%}"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# ------------------------------------------------------------------ ensure


@dataclass(frozen=True)
class _Job:
    """What every step of one ``ensure`` call needs."""

    spec: SetSpec
    folder: Path
    files: tuple[SetFile, ...]
    mirrors: tuple[str, ...]
    progress: ProgressCallback | None
    cancelled: Callable[[], bool]
    timeout: float

    def report(self, file: SetFile, done: int, total: int | None) -> None:
        if self.progress is not None:
            number = self.files.index(file) + 1
            self.progress(Progress(file.name, done, total, number, len(self.files)))


def ensure(name: str, *, folder: str | os.PathLike[str] | None = None,
           progress: ProgressCallback | None = None, cancel: Cancel = None,
           urls: Sequence[str] | None = None, checksums: Mapping[str, str] | None = None,
           timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Download whatever files of set ``name`` are missing; return the set's folder.

    ``folder`` is the data folder (default ``data_folder()``); the files go to its ``name``
    sub-folder. ``urls`` replaces the set's mirrors (base URLs; a file's URL is base + file
    name) and ``checksums`` maps file names to hex digests (MD5 or SHA-256), as tests and
    private mirrors need. ``progress`` is called from this thread after every chunk.
    Raises ``DownloadError`` (offline, every mirror failed), ``ChecksumError``,
    ``DownloadCancelled`` or ``StandardSetError`` (the folder cannot be written).
    """
    s = spec(name)
    where = set_folder(name, folder)
    job = _Job(s, where, _files_with(s, checksums), _mirrors(urls if urls is not None else s.mirrors),
               progress, _cancel_check(cancel), float(timeout))
    with _local_io(where, "create the folder"):
        where.mkdir(parents=True, exist_ok=True)
    for file in job.files:
        if not _present_and_verified(job, file):
            _fetch_file(job, file)
    return where


def _files_with(s: SetSpec, checksums: Mapping[str, str] | None) -> tuple[SetFile, ...]:
    if checksums is None:
        return s.files
    unknown = sorted(set(checksums) - {f.name for f in s.files})
    if unknown:
        raise StandardSetError(f"{s.title} has no file named {', '.join(unknown)}; its files are "
                               + ", ".join(f.name for f in s.files))
    return tuple(dataclasses.replace(f, checksum=Checksum.parse(checksums[f.name])) if f.name in checksums else f
                 for f in s.files)


def _mirrors(urls: Sequence[str]) -> tuple[str, ...]:
    if isinstance(urls, str) or not urls:
        raise StandardSetError(f"urls must be a non-empty list of base URLs; got {urls!r}")
    out = []
    for url in urls:
        try:
            scheme = urllib.parse.urlsplit(url).scheme
        except (TypeError, ValueError):
            scheme = ""
        if scheme not in ("http", "https"):
            raise StandardSetError(f"mirror {url!r} is not an http:// or https:// URL")
        out.append(url if url.endswith("/") else url + "/")
    return tuple(out)


def _cancel_check(cancel: Cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


@contextlib.contextmanager
def _local_io(path: Path, doing: str) -> Iterator[None]:
    """Turn an OSError on our own disk into a StandardSetError naming the path."""
    try:
        yield
    except OSError as exc:
        raise StandardSetError(f"cannot {doing} '{path}': {exc.strerror or exc}") from None


def _present_and_verified(job: _Job, file: SetFile) -> bool:
    path = job.folder / file.name
    if not os.path.lexists(path):
        return False
    if not path.is_file():
        raise StandardSetError(f"'{path}' is in the way of {job.spec.title}'s {file.name}: it is not a regular file")
    hasher = file.checksum.hasher()
    _hash_into(path, hasher)
    got = hasher.hexdigest()
    if got != file.checksum.digest:
        raise ChecksumError(
            f"'{path}' has checksum {file.checksum.algorithm} {got}, but {file.name} of "
            f"{job.spec.title} has {file.checksum}: it is damaged or another file. Remove it and "
            "run again to download the official one.",
            folder=job.folder, file=file.name, expected=file.checksum.digest, got=got)
    return True


def _hash_into(path: Path, hasher) -> int:
    """Feed the file's bytes to ``hasher``; return how many there were (0 if it is absent)."""
    done = 0
    with _local_io(path, "read"):
        if not path.exists():
            return 0
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                hasher.update(chunk)
                done += len(chunk)
    return done


# ------------------------------------------------------------------ one file, mirror by mirror


@dataclass(frozen=True)
class _Failure:
    url: str
    reason: str
    got: str | None = None  # the received checksum when that was the failure


class _Mismatch(Exception):
    def __init__(self, got: str):
        self.got = got


class _StalePart(Exception):
    """The bytes of the ``.part`` cannot be continued: start this URL over from byte 0."""


def _fetch_file(job: _Job, file: SetFile) -> None:
    final = job.folder / file.name
    part = _part_path(final)
    failures: list[_Failure] = []
    for base in job.mirrors:
        url = base + file.name
        try:
            _fetch_url(job, url, file, part)
        except _Mismatch as exc:
            failures.append(_Failure(url, f"checksum mismatch: expected {file.checksum}, got "
                                          f"{file.checksum.algorithm} {exc.got}; the download was removed", exc.got))
            continue
        except NETWORK_ERRORS as exc:
            failures.append(_Failure(url, _reason(exc, job.timeout)))
            continue
        _publish(part, final)
        return
    raise _failure_error(job, file, failures)


def _part_path(final: Path) -> Path:
    return final.with_name(final.name + ".part")


def _fetch_url(job: _Job, url: str, file: SetFile, part: Path) -> None:
    try:
        _transfer(job, url, file, part)
    except _StalePart:
        with _local_io(part, "remove"):
            part.unlink(missing_ok=True)
        _transfer(job, url, file, part)


def _transfer(job: _Job, url: str, file: SetFile, part: Path) -> None:
    """Bring ``part`` to the whole file from ``url`` (continuing what it holds) and verify it."""
    hasher = file.checksum.hasher()
    offset = _hash_into(part, hasher)
    if offset and hasher.hexdigest() == file.checksum.digest:
        return  # a previous run got every byte but stopped before the rename
    _check_cancel(job, file, part, offset)
    with _open_url(url, offset, job.timeout) as response:
        offset, hasher = _start_point(response, offset, hasher, file)
        total = _total_bytes(response, offset)
        with _open_part(part, append=offset > 0) as fh:
            done = _copy(job, file, response, fh, hasher, offset, total)
            with _local_io(part, "write"):
                fh.flush()
                os.fsync(fh.fileno())
    if total is not None and done != total:
        raise ConnectionError(f"the connection ended after {done} of {total} bytes")
    got = hasher.hexdigest()
    if got != file.checksum.digest:
        if offset:
            raise _StalePart()
        with _local_io(part, "remove"):
            part.unlink()
        raise _Mismatch(got)


def _check_cancel(job: _Job, file: SetFile, part: Path, kept: int) -> None:
    if job.cancelled():
        raise DownloadCancelled(
            f"download of {job.spec.title} cancelled during {file.name}; {_megabytes(kept)} "
            f"kept in '{part}' for the next run to resume", folder=job.folder,
            files=(file.name,))


def _open_part(part: Path, append: bool) -> BinaryIO:
    with _local_io(part, "write"):
        return open(part, "ab" if append else "wb")


def _copy(job: _Job, file: SetFile, response: BinaryIO, fh: BinaryIO, hasher, done: int,
          total: int | None) -> int:
    """Chunks from ``response`` to ``fh`` and ``hasher`` until the end; returns the bytes done.
    Only the reads may raise network errors; a failed write is a StandardSetError."""
    job.report(file, done, total)
    part = Path(fh.name)
    while True:
        _check_cancel(job, file, part, done)
        chunk = response.read(CHUNK_BYTES)
        if not chunk:
            return done
        with _local_io(part, "write"):
            fh.write(chunk)
        hasher.update(chunk)
        done += len(chunk)
        job.report(file, done, total)


def _start_point(response, offset: int, hasher, file: SetFile):
    """``(offset, hasher)`` to continue from, given how the server answered a request that may
    have asked for ``Range: bytes=offset-``."""
    status = response.status
    if status == 206 and offset:
        if _content_range_start(response.headers.get("Content-Range", "")) != offset:
            raise _StalePart()
        return offset, hasher
    if status == 200:  # the whole file: no range asked, or the server ignores Range
        return 0, file.checksum.hasher()
    raise ConnectionError(f"unexpected answer HTTP {status}")


def _content_range_start(value: str) -> int | None:
    unit, _, rest = value.strip().partition(" ")
    first = rest.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


def _total_bytes(response, offset: int) -> int | None:
    length = response.headers.get("Content-Length", "")
    return offset + int(length) if length.strip().isdigit() else None


def _publish(part: Path, final: Path) -> None:
    with _local_io(final, "move the verified download to"):
        os.replace(part, final)
    # Make the rename durable; folders cannot be opened for fsync on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------ the network


def _open_url(url: str, offset: int, timeout: float):
    _resolve_host(url, timeout)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return _opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            raise _StalePart() from None
        raise


def _opener() -> urllib.request.OpenerDirector:
    """http and https only (no file:, ftp: or data: even after a redirect); proxies from the
    environment, read now rather than cached at first use."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPRedirectHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _resolve_host(url: str, timeout: float) -> None:
    """Look the host up in a thread joined with ``timeout``: a resolver that does not answer
    fails this URL in ``timeout`` seconds instead of hanging. urllib looks it up again, which
    the system resolver answers from its cache."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if not host or _is_ip(host) or urllib.request.getproxies().get(parts.scheme):
        return  # nothing to look up, or the proxy looks it up
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, parts.port or parts.scheme, type=socket.SOCK_STREAM)
        except OSError as exc:  # "[Errno -2] Name or service not known" says less than this
            outcome.append(OSError(f"cannot look up {host}: {exc.strerror or exc} (offline?)"))
        else:
            outcome.append(None)

    worker = threading.Thread(target=lookup, name=f"lookup {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"looking up {host} took longer than {timeout:g} s")
    if outcome[0] is not None:
        raise outcome[0]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _reason(exc: BaseException, timeout: float) -> str:
    """Why a URL failed, in a few words."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        text = str(exc)
        return text if text.startswith("looking up") else f"no answer within {timeout:g} s"
    return str(exc) or type(exc).__name__


def _failure_error(job: _Job, file: SetFile, failures: list[_Failure]) -> DownloadError:
    missing = tuple(f.name for f in job.files if not (job.folder / f.name).is_file())
    mismatch = next((f for f in failures if f.got is not None), None)
    head = (f"The download of {file.name} ({job.spec.title}) does not match its checksum"
            if mismatch else f"Cannot download {file.name} ({job.spec.title})")
    lines = [f"{head}. Tried:", *(f"  {f.url}: {f.reason}" for f in failures),
             f"To install {job.spec.title} by hand, place {', '.join(missing)} in {job.folder}",
             f"(or set {DATA_ENV} to a folder that has a '{job.spec.name}' folder holding them)."]
    urls = tuple(f.url for f in failures)
    if mismatch is not None:
        return ChecksumError("\n".join(lines), folder=job.folder, file=file.name,
                             expected=file.checksum.digest, got=mismatch.got or "", urls=urls)
    return DownloadError("\n".join(lines), folder=job.folder, files=missing, urls=urls)
