"""Crash recovery files and per-user settings locations.

Each running window owns one *session*: ``<dir>/<session>.recovery.json`` written atomically
while the document has unsaved changes, and ``<session>.lock``, a QLockFile held for the
session's life. A recovery file whose lock can be taken belongs to a process that is gone (it
crashed or was killed): the next start offers it once and then deletes it, whatever the answer.
A clean save or a clean exit deletes the session's own file.

The folder is ``$NETWRIGHT_RECOVERY_DIR`` when set (tests), else the per-user application data
folder (QStandardPaths.AppDataLocation)/recovery. Settings (recent files) live in
``$NETWRIGHT_CONFIG_DIR/netwright.ini`` when set, else the platform's QSettings store.

A recovery file is JSON: ``{"netwright-recovery": 1, "path": <original file or "">,
"saved_at": <unix time>, "graph": <the graph file text>}``; the graph text is read back
through ``graph.fileformat.loads`` like any untrusted file.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass

from PySide6.QtCore import QLockFile, QSettings, QStandardPaths

from graph import fileformat
from graph.document import Graph
from graph.errors import FileFormatError

SUFFIX = ".recovery.json"


def recovery_dir() -> str:
    folder = os.environ.get("NETWRIGHT_RECOVERY_DIR")
    if not folder:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        folder = os.path.join(base or os.path.expanduser("~/.netwright"), "recovery")
    return folder


def app_settings() -> QSettings:
    folder = os.environ.get("NETWRIGHT_CONFIG_DIR")
    if folder:
        return QSettings(os.path.join(folder, "netwright.ini"), QSettings.Format.IniFormat)
    return QSettings("Netwright", "Netwright")


@dataclass
class Recovered:
    graph: Graph
    path: str  # the file the unsaved graph came from ("" if it was never saved)
    saved_at: float
    file: str  # the recovery file itself


class RecoverySession:
    def __init__(self, folder: str | None = None):
        self.folder = folder or recovery_dir()
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.file = os.path.join(self.folder, self.session + SUFFIX)
        self._lock: QLockFile | None = None

    def _ensure_lock(self) -> None:
        if self._lock is None:
            os.makedirs(self.folder, exist_ok=True)
            self._lock = QLockFile(os.path.join(self.folder, self.session + ".lock"))
            self._lock.setStaleLockTime(0)  # held for the whole session: only a dead owner is stale
            self._lock.tryLock(0)

    def write(self, graph_text: str, source_path: str) -> None:
        """Atomically replace this session's recovery file; raises OSError."""
        self._ensure_lock()
        data = {"netwright-recovery": 1, "path": source_path, "saved_at": time.time(), "graph": graph_text}
        fileformat.atomic_write(self.file, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def clear(self) -> None:
        try:
            os.unlink(self.file)
        except OSError:
            pass

    def close(self) -> None:
        self.clear()
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
        """Parse a recovery file; raises FileFormatError naming the file."""
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
            raise FileFormatError(f"cannot read recovery file {file}: {exc}") from None
        return Recovered(fileformat.loads(text), path, saved_at, file)

    @staticmethod
    def discard(file: str) -> None:
        for path in (file, file[: -len(SUFFIX)] + ".lock"):
            try:
                os.unlink(path)
            except OSError:
                pass
