"""Copy and paste of graph fragments.

A fragment is an ordinary graph file (same format, same loader) holding the copied nodes and
the edges among them, with their ids and positions; settings are left at defaults. Pasting goes
through ``graph.fileformat.loads`` like any untrusted file, then the document re-ids the nodes.
The clipboard carries it both as ``FRAGMENT_MIME`` and as plain text, so a graph copied as text
from an editor pastes too.
"""

from __future__ import annotations

import atexit
import copy

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from graph import fileformat
from graph.document import Graph
from graph.errors import FileFormatError

FRAGMENT_MIME = "application/x-netwright-fragment"


def fragment(graph: Graph, node_ids: list[str]) -> Graph:
    """The selected nodes (document order) and the edges among them, as a standalone graph."""
    keep = set(node_ids)
    out = Graph()
    for nid, node in graph.nodes.items():
        if nid in keep:
            out.nodes[nid] = copy.deepcopy(node)
    out.edges = [e for e in graph.edges if e.source.node in keep and e.target.node in keep]
    return out


def to_mime(part: Graph) -> QMimeData:
    text = fileformat.dumps(part)
    mime = QMimeData()
    mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
    mime.setText(text)
    return mime


_release_registered = False


def put_on_clipboard(part: Graph) -> None:
    """Put a fragment on the system clipboard (as FRAGMENT_MIME and plain text)."""
    global _release_registered
    app = QApplication.instance()
    app.clipboard().setMimeData(to_mime(part))
    if not _release_registered:
        _release_registered = True
        app.aboutToQuit.connect(release_clipboard)
        atexit.register(release_clipboard)


def release_clipboard() -> None:
    """Swap our QMimeData on the clipboard for a plain-text copy before the application ends.

    NOTE: [clipboard at exit] With PySide6 6.11 (offscreen at least), a QMimeData made in Python
    and still on the clipboard when the QApplication is destroyed segfaults the interpreter at
    exit. Plain text set by Qt itself does not, and the text is the whole fragment, so pasting
    it later (here or in another program) still works.
    """
    app = QApplication.instance()
    if app is None:
        return
    board = app.clipboard()
    mime = board.mimeData()
    if mime is not None and mime.hasFormat(FRAGMENT_MIME):
        board.setText(mime.text())


def from_mime(mime: QMimeData | None) -> Graph | None:
    """The fragment on the clipboard, None if there is none; FileFormatError if it is damaged."""
    if mime is None:
        return None
    if mime.hasFormat(FRAGMENT_MIME):
        return fileformat.loads(bytes(mime.data(FRAGMENT_MIME).data()))
    text = mime.text() if mime.hasText() else ""
    if '"netwright-graph"' in text:
        return fileformat.loads(text)
    return None


__all__ = ["FRAGMENT_MIME", "FileFormatError", "fragment", "from_mime", "to_mime"]
