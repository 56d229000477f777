"""Crash recovery files, the autosave schedule and per-user settings locations.

Each running window owns one *session*: ``<dir>/<session>.recovery.json`` written atomically
while the document has unsaved changes, and ``<session>.lock``, a QLockFile held for the
session's life. A recovery file whose lock can be taken belongs to a process that is gone (it
crashed or was killed): the next start offers it once and then deletes it, whatever the answer.
A recovery file that cannot be read, for any reason, is never deleted: the user is told why and
asked to move it aside into ``<dir>/damaged/``. A clean save or a clean exit deletes the
session's own file.

When to autosave (:class:`AutosaveSchedule`): ``debounce_s`` after the last edit (default 1 s,
``$NETWRIGHT_AUTOSAVE_DEBOUNCE_SECONDS``), and during continuous editing no later than
``max_wait_s`` after the first edit the file does not hold yet (default 3 s,
``$NETWRIGHT_AUTOSAVE_SECONDS``), so a crash loses a few seconds of work at most, in the first
minute too. tests/benchmarks/bench_recovery.py measures the loss with SIGKILL.

Writing: the GUI thread takes the snapshot (:func:`snapshot_text`, compact JSON: the format's
``indent=2`` makes ``json`` use its pure-Python encoder; measured on the dev box, 50 / 2,000 /
10,000 nodes: 0.5 / 21 / 170 ms compact against 1.9 / 83 / 445 ms indented) and one background
thread wraps and writes it (``atomic_write`` fsyncs: 1 / 5-30 / 28-60 ms here, unbounded on a
slow or network disk, so never on the GUI thread).
Only the newest snapshot is written; :meth:`RecoverySession.clear` drops a pending one and waits
for a write in progress, so no stale write can bring a cleared file back.

Locations never depend on QCoreApplication's organization/application names (a window built
without ``run_app`` used to keep its files under ``PySideApp``, where the app never looked):
recovery files live in ``$NETWRIGHT_RECOVERY_DIR`` when set (tests), else in
``<GenericDataLocation>/Netwright/Netwright/recovery``; settings (recent files) in
``$NETWRIGHT_CONFIG_DIR/netwright.ini`` when set, else the platform's QSettings store for
organization and application "Netwright".

A recovery file is JSON: ``{"netwright-recovery": 1, "path": <original file or "">,
"saved_at": <unix time>, "graph": <the graph file text>}``; the graph text is read back
through ``graph.fileformat.loads`` like any untrusted file.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QLockFile, QObject, QSettings, QStandardPaths, Signal

from graph import fileformat
from graph.document import Graph
from graph.errors import FileFormatError

SUFFIX = ".recovery.json"
DAMAGED = "damaged"
ORGANIZATION = APPLICATION = "Netwright"
DEBOUNCE_S = 1.0
MAX_WAIT_S = 3.0
GUI_SHARE = 0.02  # at most this share of the GUI thread goes to autosave snapshots
MAX_REASON = 400  # characters of an error message shown in a prompt

_log = logging.getLogger(__name__)


def set_app_names(app: QCoreApplication) -> None:
    """The names ``run_app`` gives the application (window titles, platform integration)."""
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)


def data_dir() -> str:
    """The per-user data folder, whatever QCoreApplication's names are."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    # NOTE: [same folder] <org>/<app> under the generic folder is where AppDataLocation put it for
    # run_app on Linux and macOS, so recovery files left by earlier versions are still offered.
    return os.path.join(base or os.path.expanduser("~/.local/share"), ORGANIZATION, APPLICATION)


def recovery_dir() -> str:
    return os.environ.get("NETWRIGHT_RECOVERY_DIR") or os.path.join(data_dir(), "recovery")


def app_settings() -> QSettings:
    folder = os.environ.get("NETWRIGHT_CONFIG_DIR")
    if folder:
        return QSettings(os.path.join(folder, "netwright.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)  # explicit names: not the application's


def snapshot_text(graph: Graph) -> str:
    """The graph as compact file-format JSON: what a recovery file holds."""
    return json.dumps(fileformat.to_document(graph), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


class AutosaveSchedule:
    """When the next recovery file is due: ``debounce_s`` after the last edit, and no later than
    ``max_wait_s`` after the first edit it does not hold. Pure arithmetic on ``clock`` (seconds),
    so tests drive it with a fake clock."""

    def __init__(self, debounce_s: float = DEBOUNCE_S, max_wait_s: float = MAX_WAIT_S,
                 clock: Callable[[], float] = time.monotonic):
        self.max_wait_s = max_wait_s
        self.debounce_s = min(debounce_s, max_wait_s)
        self.clock = clock
        self.cost_s = 0.0  # GUI-thread time of the last snapshot
        self._first_unsaved: float | None = None

    @classmethod
    def from_environment(cls) -> AutosaveSchedule:
        return cls(_env_seconds("NETWRIGHT_AUTOSAVE_DEBOUNCE_SECONDS", DEBOUNCE_S),
                   _env_seconds("NETWRIGHT_AUTOSAVE_SECONDS", MAX_WAIT_S))

    def max_wait(self) -> float:
        """``max_wait_s``, stretched for a graph so big that its snapshot would take more than
        GUI_SHARE of the GUI thread during continuous editing (2,000 nodes: 21 ms, no stretch;
        10,000 nodes: 170 ms, every 8.5 s)."""
        return max(self.max_wait_s, self.cost_s / GUI_SHARE)

    def edited(self) -> float:
        """Record an edit; returns the seconds from now until a save is due."""
        now = self.clock()
        if self._first_unsaved is None:
            self._first_unsaved = now
        due = min(now + self.debounce_s, self._first_unsaved + self.max_wait())
        return max(0.0, due - now)

    def saved(self, cost_s: float | None = None) -> None:
        """The file now holds every edit (or nothing needs saving)."""
        self._first_unsaved = None
        if cost_s is not None:
            self.cost_s = cost_s


@dataclass
class Recovered:
    graph: Graph
    path: str  # the file the unsaved graph came from ("" if it was never saved)
    saved_at: float
    file: str  # the recovery file itself

    def prompt(self) -> str:
        name = os.path.basename(self.path) if self.path else "an untitled graph"
        title = self.graph.settings.get("title") or ""
        return (f"Netwright did not close properly. Unsaved changes to {name}"
                f"{f' ({title})' if title else ''} from {_when(self.saved_at)} were recovered "
                f"({len(self.graph.nodes)} nodes).\n\nRestore them?")


@dataclass(frozen=True)
class Damaged:
    """A recovery file that cannot be read, and why."""

    file: str
    reason: str

    def prompt(self) -> str:
        folder = os.path.join(os.path.dirname(self.file), DAMAGED)
        return (f"A recovery file could not be read: {self.reason}. Move it aside?\n\n"
                f"{self.file} goes to {folder}; nothing is deleted.")


def _when(saved_at: float) -> str:
    try:
        return datetime.datetime.fromtimestamp(saved_at).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "an unknown time"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileFormatError) and exc.path == "$" and not exc.node_id:
        text = exc.reason  # about the whole file: "$: " would say nothing
    else:
        text = str(exc)
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def read_orphan(file: str) -> Recovered | Damaged:
    """Read a recovery file; any failure at all becomes :class:`Damaged` (and is logged): a
    damaged file must never stop the designer from starting."""
    try:
        return RecoverySession.read(file)
    except Exception as exc:  # an untrusted file: whatever it raises, the start goes on
        _log.warning("cannot read recovery file %s", file, exc_info=True)
        return Damaged(file, _reason(exc))


@dataclass
class _Job:
    generation: int
    graph_text: str
    source_path: str
    saved_at: float


class RecoverySession(QObject):
    """This window's recovery file, written by one background thread. Signals are delivered on
    the GUI thread. The object has no Qt parent on purpose: the writer thread holds it, so its
    C++ half cannot be deleted while the thread emits."""

    written = Signal(float)  # the saved_at (time.time() of the snapshot) of the file now on disk
    write_failed = Signal(str)  # why a write failed

    def __init__(self, folder: str | None = None):
        super().__init__()
        self.folder = folder or recovery_dir()
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.file = os.path.join(self.folder, self.session + SUFFIX)
        self._lock: QLockFile | None = None
        self._cond = threading.Condition()
        self._io = threading.Lock()  # held while the file is written or removed
        self._pending: _Job | None = None
        self._generation = 0  # bumped by clear(): older jobs are never written
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def _ensure_lock(self) -> None:
        if self._lock is None:
            os.makedirs(self.folder, exist_ok=True)
            self._lock = QLockFile(os.path.join(self.folder, self.session + ".lock"))
            self._lock.setStaleLockTime(0)  # held for the whole session: only a dead owner is stale
            self._lock.tryLock(0)

    def write(self, graph_text: str, source_path: str) -> None:
        """Queue the snapshot for writing and return at once (only the newest queued one is
        written); raises OSError if the folder cannot be made. ``written`` or ``write_failed``
        follows."""
        self._ensure_lock()
        with self._cond:
            self._pending = _Job(self._generation, graph_text, source_path, time.time())
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recovery-writer", daemon=True)
                self._thread.start()

    def write_graph(self, graph: Graph, source_path: str) -> float:
        """Snapshot ``graph`` on this (the GUI) thread and queue it; returns the snapshot's cost
        in seconds. Raises OSError (no folder) or ValueError (a value JSON cannot hold)."""
        start = time.perf_counter()
        text = snapshot_text(graph)
        cost = time.perf_counter() - start
        self.write(text, source_path)
        return cost

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued snapshot is written (or dropped); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stopping)
                if self._pending is None:
                    return
                job, self._pending, self._busy = self._pending, None, True
            try:
                self._write_job(job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_job(self, job: _Job) -> None:
        data = {"netwright-recovery": 1, "path": job.source_path, "saved_at": job.saved_at,
                "graph": job.graph_text}
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
        with self._io:
            if job.generation != self._generation:
                return  # cleared since the snapshot was taken
            try:
                fileformat.atomic_write(self.file, payload)
            except OSError as exc:
                self.write_failed.emit(exc.strerror or str(exc))
                return
        self.written.emit(job.saved_at)

    def clear(self) -> None:
        """Remove the file now; a queued snapshot is dropped and a write in progress finishes
        first, so the file stays gone."""
        with self._cond:
            self._generation += 1
            self._pending = None
        with self._io:
            try:
                os.unlink(self.file)
            except OSError:
                pass

    def close(self) -> None:
        self.clear()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        self._stopping = False
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def orphans(self) -> list[str]:
        """Recovery files left by sessions that are gone, newest first."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        found = []
        for name in names:
            if not name.endswith(SUFFIX) or name == os.path.basename(self.file):
                continue
            session = name[: -len(SUFFIX)]
            lock = QLockFile(os.path.join(self.folder, session + ".lock"))
            lock.setStaleLockTime(0)
            if lock.tryLock(0):  # its owner is gone (or never locked): ours to offer
                lock.unlock()
                path = os.path.join(self.folder, name)
                try:
                    found.append((os.path.getmtime(path), path))
                except OSError:
                    continue
        return [p for _, p in sorted(found, reverse=True)]

    @staticmethod
    def read(file: str) -> Recovered:
        """Parse a recovery file; raises FileFormatError, or whatever ``fileformat.loads`` lets
        through (:func:`read_orphan` turns every failure into :class:`Damaged`)."""
        try:
            with open(file, "rb") as fh:
                data = json.loads(fh.read(fileformat.MAX_BYTES + 1).decode("utf-8"))
            if not isinstance(data, dict) or data.get("netwright-recovery") != 1:
                raise ValueError("not a Netwright recovery file")
            text = data["graph"]
            path = data.get("path") or ""
            if not isinstance(text, str) or not isinstance(path, str):
                raise ValueError("damaged recovery file")
            saved_at = float(data.get("saved_at", 0.0))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FileFormatError(f"not a readable recovery file ({exc})") from exc
        return Recovered(fileformat.loads(text), path, saved_at, file)

    @staticmethod
    def discard(file: str) -> None:
        for path in (file, file[: -len(SUFFIX)] + ".lock"):
            try:
                os.unlink(path)
            except OSError:
                pass

    @staticmethod
    def move_aside(file: str) -> str:
        """Move a recovery file into ``damaged/`` beside it (never over another); returns its new
        path. Raises OSError."""
        folder = os.path.join(os.path.dirname(file), DAMAGED)
        os.makedirs(folder, exist_ok=True)
        name = os.path.basename(file)
        target = os.path.join(folder, name)
        if os.path.exists(target):
            target = os.path.join(folder, f"{name[: -len(SUFFIX)]}-{uuid.uuid4().hex[:8]}{SUFFIX}")
        os.replace(file, target)
        RecoverySession.discard(file)  # its stale lock, if any
        return target
