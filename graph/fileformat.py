"""The JSON file format: load, migrate, save.

Load pipeline: a regular file (never a pipe or device: reading one could block forever) → size
check → strict UTF-8 → depth check → JSON (duplicate keys, NaN and Infinity refused, integers of
more than :data:`MAX_INT_DIGITS` digits kept aside) → every value checked where it stands (integer
digits, finite numbers, text length, Unicode text) → ``format``/``version`` → step-by-step
migrations → nodes through the catalogue (legacy ids accepted) → parameters checked → edges
through :meth:`Graph.connect` (ports, kinds, one edge per input, no cycles). Every problem a file
can have is a :class:`FileFormatError` naming the JSON path (``$.nodes[3].params.out_features``)
and the node id when there is one; nothing else escapes for bad input.

Nothing in a file can name code to run: types resolve through the catalogue, values are plain
JSON scalars checked against their declarations; no pickle, eval or exec anywhere.

Save is deterministic (``indent=2``, sorted keys, every parameter written, trailing newline) and
atomic (temporary file in the same folder, fsync, ``os.replace``), so an interrupted save leaves
the previous file intact. :func:`atomic_write` is the project's one atomic writer (checkpoints,
exports, recovery files use it too): it writes through symlinks, keeps the file's permission
bits, and removes the temp files that earlier interrupted saves of the same file left.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
from collections.abc import Callable
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from . import catalogue
from .document import ID_PATTERN, Edge, Graph, PortRef
from .errors import EditError, FileFormatError, GraphError, ParamError

FORMAT = "netwright-graph"
VERSION = 1
MAX_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000
MAX_EDGES = 100_000
# NOTE: [value limits] Python refuses to convert integers of more than 4,300 digits (a
# ValueError from deep inside json), and float() of one over ~309 digits overflows. No field
# takes more than 20 digits (seeds), so longer integers are refused with their path. The text
# cap sits above every declared text length (the longest, a description, is 20,000) and bounds
# what an error message or the inspector is ever handed.
MAX_INT_DIGITS = 100
MAX_STRING = 100_000

_MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def migration(from_version: int) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
    """Register a function that turns a version-``from_version`` document into the next version."""

    def register(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
        _MIGRATIONS[from_version] = fn
        return fn

    return register


def migrate(doc: dict) -> dict:
    version = doc["version"]
    while version < VERSION:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise FileFormatError(f"no migration from version {version} to {version + 1}", "$.version")
        doc = step(doc)
        version += 1
        doc["version"] = version
    return doc


# ------------------------------------------------------------------------ load


def load_path(path: str | os.PathLike) -> Graph:
    """Read and parse a graph file; raises FileFormatError, never anything else for bad input."""
    return loads(_read_regular_file(path))


# O_NONBLOCK: opening a FIFO for reading blocks until a writer comes, which may be never.
# O_NOCTTY: opening a terminal must not make it ours.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def _read_regular_file(path: str | os.PathLike) -> bytes:
    """At most ``MAX_BYTES + 1`` bytes of ``path``, which must be a regular file: a folder, pipe,
    socket or device (``/dev/zero`` never ends, ``/dev/stdin`` waits for typing) is refused."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise FileFormatError(f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError:  # a NUL character in the name
        raise FileFormatError("cannot read the file: its name holds a NUL character") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileFormatError("cannot read the file: it is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise FileFormatError("cannot read the file: it is not a regular file (a device, pipe or socket)")
        if info.st_size > MAX_BYTES:
            raise FileFormatError(f"file is {info.st_size} bytes; at most {MAX_BYTES} are accepted")
        return _read_at_most(fd, MAX_BYTES + 1)
    except OSError as exc:
        raise FileFormatError(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def loads(data: bytes | str) -> Graph:
    """Parse a graph file's contents; raises FileFormatError, never anything else for bad input."""
    text = _decode(data) if isinstance(data, bytes) else data
    if len(text) > MAX_BYTES:
        raise FileFormatError(f"text is {len(text)} characters; at most {MAX_BYTES} are accepted")
    _check_nesting(text)
    return from_document(_parse_json(text))


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise FileFormatError(f"file is {len(data)} bytes; at most {MAX_BYTES} are accepted")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x} at offset {exc.start}") from None


def _parse_json(text: str) -> Any:
    """JSON text to Python data; every way the parser can fail becomes a FileFormatError."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                          parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except _DuplicateKey as exc:
        raise FileFormatError(f"key {_short(exc.args[0])} appears twice in one object") from None
    except _BadConstant as exc:
        raise FileFormatError(f"{exc.args[0]} is not a number JSON allows") from None
    except RecursionError:
        raise FileFormatError(f"nesting is deeper than {MAX_DEPTH} levels") from None
    except MemoryError:
        raise FileFormatError("the file's contents do not fit in memory") from None
    except (ValueError, OverflowError) as exc:
        # Not expected after the hooks above; a safety net so that no parser limit (such as
        # Python's integer digits) ever reaches the user as a traceback.
        raise FileFormatError(f"not valid JSON: {_flat(str(exc))}") from None


class _DuplicateKey(Exception):
    pass


class _BadConstant(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    raise _BadConstant(name)


class _LongInteger:
    """An integer literal too long to convert, kept in the document so that
    :func:`_check_values` can refuse it with its JSON path (the parser knows none)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits


def _parse_int(literal: str) -> int | _LongInteger:
    digits = len(literal) - literal.startswith("-")
    return _LongInteger(digits) if digits > MAX_INT_DIGITS else int(literal)


_INT_LIMIT = 10**MAX_INT_DIGITS
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _check_values(value: Any, path: str = "$", depth: int = 0) -> None:
    """Refuse, with its JSON path, any value that no field accepts in any place: long integers,
    infinite numbers, long text, text that is not Unicode. Also applies to documents built in
    Python and handed to :func:`from_document`, hence the depth check."""
    if depth > MAX_DEPTH:
        raise FileFormatError(f"nesting is deeper than {MAX_DEPTH} levels", path)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _check_text(key, path, "a key")
            _check_values(item, f"{path}.{_key(key)}" if isinstance(key, str) else path, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, str):
        _check_text(value, path, "text")
    else:
        _check_number(value, path)


def _check_number(value: Any, path: str) -> None:
    if isinstance(value, _LongInteger):
        raise FileFormatError(f"an integer of {value.digits} digits; at most {MAX_INT_DIGITS} are accepted", path)
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not -_INT_LIMIT < value < _INT_LIMIT:
        raise FileFormatError(f"an integer of more than {MAX_INT_DIGITS} digits; at most {MAX_INT_DIGITS} are accepted", path)
    if isinstance(value, float) and not math.isfinite(value):
        # json reads 1e999 as inf: out of range of every number a file may hold.
        raise FileFormatError("a number beyond ±1.8e308 (or NaN); numbers must be finite", path)


def _check_text(value: str, path: str, what: str) -> None:
    if len(value) > MAX_STRING:
        raise FileFormatError(f"{what} of {len(value)} characters; at most {MAX_STRING} are accepted", path)
    bad = _SURROGATE.search(value)
    if bad:
        # "\ud800" is valid JSON but not Unicode: such text could never be saved again.
        raise FileFormatError(f"{what} holds a lone surrogate \\u{ord(bad.group()):04x}, which is not Unicode text", path)


def _flat(text: str) -> str:
    return " ".join(text.split())[:200]


def _check_nesting(text: str) -> None:
    """Refuse deep nesting before json recurses into it (brackets inside strings are skipped)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise FileFormatError(f"nesting is deeper than {MAX_DEPTH} levels")
        elif ch in "]}":
            depth -= 1


def _expect(value: Any, kind: type | tuple, path: str, what: str, node_id: str | None = None) -> Any:
    if not isinstance(value, kind) or (kind in (int, (int, float)) and isinstance(value, bool)):
        raise FileFormatError(f"expected {what}; got {_json_type(value)}", path, node_id)
    return value


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _check_keys(obj: dict, allowed: set[str], required: set[str], path: str, node_id: str | None = None) -> None:
    for key in obj:
        if key not in allowed:
            raise FileFormatError(f"unknown key {_short(key)}; expected {', '.join(sorted(allowed))}", path, node_id)
    for key in sorted(required - set(obj)):
        raise FileFormatError(f"missing key {key!r}", path, node_id)


def _short(text: str) -> str:
    r = repr(text)
    return r if len(r) <= 50 else r[:47] + "...'"


def from_document(doc: Any) -> Graph:
    """Build a graph from parsed JSON data; raises FileFormatError naming the JSON path."""
    _check_values(doc)
    _expect(doc, dict, "$", "a JSON object at the top level")
    if doc.get("format") != FORMAT:
        got = doc.get("format")
        raise FileFormatError(f"'format' must be {FORMAT!r}; got {_short(got) if isinstance(got, str) else _json_type(got)}", "$.format")
    version = _expect(doc.get("version"), int, "$.version", "an integer version")
    if version > VERSION:
        raise FileFormatError(f"version {version} is newer than this Netwright reads ({VERSION}): update Netwright", "$.version")
    if version < 0:
        raise FileFormatError(f"version must be at least 0; got {version}", "$.version")
    doc = migrate(doc)
    _check_keys(doc, {"format", "version", "nodes", "edges", "settings"}, {"format", "version", "nodes", "edges"}, "$")
    graph = Graph()
    _load_settings(graph, _expect(doc.get("settings", {}), dict, "$.settings", "an object"))
    nodes = _expect(doc["nodes"], list, "$.nodes", "a list of nodes")
    if len(nodes) > MAX_NODES:
        raise FileFormatError(f"{len(nodes)} nodes; at most {MAX_NODES} are accepted", "$.nodes")
    for i, raw in enumerate(nodes):
        _load_node(graph, raw, f"$.nodes[{i}]")
    edges = _expect(doc["edges"], list, "$.edges", "a list of edges")
    if len(edges) > MAX_EDGES:
        raise FileFormatError(f"{len(edges)} edges; at most {MAX_EDGES} are accepted", "$.edges")
    for i, raw in enumerate(edges):
        _load_edge(graph, raw, f"$.edges[{i}]")
    return graph


def _key(name: str) -> str:
    return name if name.isidentifier() and len(name) < 50 else _short(name)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ParamError):
        return f"{exc.name} {exc.reason}" if exc.name else exc.reason
    return str(exc)


def _load_settings(graph: Graph, settings: dict) -> None:
    for name, value in settings.items():
        where = f"$.settings.{_key(name)}"
        if name not in catalogue.SETTINGS_INDEX:  # checked here so the message quotes it short
            known = ", ".join(catalogue.SETTINGS_INDEX)
            raise FileFormatError(f"unknown setting {_short(name)}; settings: {known}", where)
        try:
            graph.set_setting(name, value)
        except (EditError, ParamError) as exc:
            raise FileFormatError(_reason(exc), where) from None


def _load_node(graph: Graph, raw: Any, path: str) -> None:
    _expect(raw, dict, path, "a node object")
    node_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    _check_keys(raw, {"id", "type", "params", "position", "title"}, {"id", "type"}, path, node_id)
    nid = _expect(raw["id"], str, f"{path}.id", "a text id")
    if not ID_PATTERN.fullmatch(nid):
        raise FileFormatError(f"node id {_short(nid)} must be 1-64 letters, digits, '_' or '-', "
                              "starting with a letter or '_'", f"{path}.id")
    type_id = _expect(raw["type"], str, f"{path}.type", "a node type name", nid)
    try:
        t = catalogue.get(type_id)
    except GraphError:
        raise FileFormatError(f"unknown node type {_short(type_id)}", f"{path}.type", nid) from None
    params = _expect(raw.get("params", {}), dict, f"{path}.params", "an object of parameters", nid)
    _check_params(t, params, f"{path}.params", nid)
    position = raw.get("position", [0, 0])
    _expect(position, list, f"{path}.position", "[x, y]", nid)
    if len(position) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position):
        raise FileFormatError("expected [x, y] with two numbers", f"{path}.position", nid)
    title = _expect(raw.get("title", ""), str, f"{path}.title", "text", nid)
    try:
        graph.add_node(t.type_id, params, tuple(position), title, node_id=nid)
    except (EditError, ParamError) as exc:
        text = str(exc)
        where = f"{path}.position" if "position" in text else f"{path}.id" if "id " in text else path
        raise FileFormatError(_reason(exc), where, nid) from None


def _check_params(t: catalogue.NodeType, params: dict, path: str, nid: str) -> None:
    for name, value in params.items():
        if name not in t.param_index:
            known = ", ".join(t.param_index) or "none"
            raise FileFormatError(f"{t.type_id} has no parameter {_short(name)} (parameters: {known})", path, nid)
        try:
            t.param_index[name].check(value)
        except ParamError as exc:
            raise FileFormatError(f"{exc.reason}", f"{path}.{name}", nid) from None


def _load_edge(graph: Graph, raw: Any, path: str) -> None:
    _expect(raw, dict, path, 'an edge object {"from": {...}, "to": {...}}')
    _check_keys(raw, {"from", "to"}, {"from", "to"}, path)
    source = _load_end(graph, raw["from"], f"{path}.from", output=True)
    target = _load_end(graph, raw["to"], f"{path}.to", output=False)
    try:
        graph.connect(source, target)
    except EditError as exc:
        raise FileFormatError(str(exc), path, target.node) from None


def _load_end(graph: Graph, ref: Any, path: str, output: bool) -> PortRef:
    """One end of an edge: an existing node and a port of the right side (checked here, not by
    ``connect``, so that the error names ``.port`` and quotes a hostile name short)."""
    _expect(ref, dict, path, 'an object {"node": id, "port": name}')
    _check_keys(ref, {"node", "port"}, {"node", "port"}, path)
    node = _expect(ref["node"], str, f"{path}.node", "a node id")
    if node not in graph.nodes:
        raise FileFormatError(f"edge refers to a missing node {_short(node)}", f"{path}.node")
    port = _expect(ref["port"], str, f"{path}.port", "a port name", node)
    n = graph.nodes[node]
    ports = n.node_type.outputs if output else n.node_type.inputs
    if not any(p.name == port for p in ports):
        side = "output" if output else "input"
        names = ", ".join(p.name for p in ports) or "none"
        raise FileFormatError(f"{n.label()} has no {side} port {_short(port)} ({side}s: {names})", f"{path}.port", node)
    return PortRef(node, port)


# ------------------------------------------------------------------------ save


def to_document(graph: Graph) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": dict(graph.settings),
        "nodes": [
            {
                "id": n.id,
                "type": n.type,
                "title": n.title,
                "position": [_coord(n.position[0]), _coord(n.position[1])],
                "params": dict(n.params),
            }
            for n in graph.nodes.values()
        ],
        "edges": [_edge_doc(e) for e in graph.edges],
    }


def _coord(v: float) -> float:
    return round(float(v), 2)


def _edge_doc(e: Edge) -> dict:
    return {"from": {"node": e.source.node, "port": e.source.port}, "to": {"node": e.target.node, "port": e.target.port}}


def dumps(graph: Graph) -> str:
    return json.dumps(to_document(graph), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def save_path(graph: Graph, path: str | os.PathLike) -> None:
    """Write atomically: a crash at any point leaves either the old file or the new one."""
    atomic_write(path, dumps(graph).encode("utf-8"))


# ------------------------------------------------------------------------ atomic writes
#
# NOTE: [temp files] A save writes ``.<name>.<8 random characters>.tmp`` beside its target,
# holds an exclusive ``flock`` on it from creation until ``os.replace`` has renamed it, and
# renames it over the target. A save killed half-way (SIGKILL, power loss) leaves its temp file
# behind: 300 killed saves left 128 of them. Each save therefore first removes the temp files of
# the same target whose lock nobody holds: a dead process holds no lock, while a save running now
# in another process keeps its file. Windows has no flock, but it refuses to delete a file that a
# running save has open, which protects the same way.

_TEMP_CHARS = r"[a-z0-9_]{8}"  # tempfile's alphabet (older saves used mkstemp), and our hex
_LOCKED = fcntl is not None


def temp_name_pattern(name: str) -> re.Pattern[str]:
    """The names of the temp files that saves of the file ``name`` create (nothing else matches)."""
    return re.compile(re.escape(f".{name}.") + _TEMP_CHARS + re.escape(".tmp"))


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any point leaves the old or the new file.

    Like Qt's QSaveFile: a symlink is written through (its target is replaced, the link stays),
    an existing file keeps its permission bits (a new one gets the umask's), and the data and the
    rename are fsynced. Leftovers of interrupted saves of the same file are removed first.
    """
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    remove_interrupted_saves(target)
    mode = _existing_mode(target)
    fd, tmp = _create_temp(folder, name)
    try:
        with os.fdopen(os.dup(fd), "wb") as fh:  # a duplicate: the lock lives on with ``fd``
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if not _LOCKED:  # Windows renames no open file
            os.close(fd)
            fd = -1
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    _sync_folder(folder)


def _existing_mode(target: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return None  # a new file: created with 0o666 less the umask, as open() would


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    """A new locked temp file beside the target: ``(fd, path)``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        _lock(fd, wait=True)  # best effort: without locks (some network file systems) save anyway
        if _is_still(fd, tmp):
            return fd, tmp
        # Another save's cleanup removed it between our open and our lock: take a new name.
        os.close(fd)
    raise FileExistsError(f"no free temporary file name beside {os.path.join(folder, name)}")


def _lock(fd: int, wait: bool) -> bool:
    """An exclusive flock on ``fd`` (True where the platform has none); False if it is held."""
    if not _LOCKED:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False  # held by a running save, or a file system without locks: leave it
    return True


def _is_still(fd: int, path: str) -> bool:
    """``path`` still names the regular file open as ``fd``."""
    try:
        here = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(here.st_mode) and os.path.samestat(os.fstat(fd), here)


def remove_interrupted_saves(path: str | os.PathLike) -> list[str]:
    """Delete the temp files that interrupted saves of ``path`` left beside it; returns them.

    Only names of :func:`temp_name_pattern` for this very file, only regular files, and only
    those that no running save holds (see the NOTE above)."""
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    pattern = temp_name_pattern(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for entry in entries:
        if pattern.fullmatch(entry) and _remove_abandoned(os.path.join(folder, entry)):
            removed.append(os.path.join(folder, entry))
    return removed


def _remove_abandoned(tmp: str) -> bool:
    if not _LOCKED:
        return _unlink_quietly(tmp)  # fails while a save has it open
    try:
        fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        return _lock(fd, wait=False) and _is_still(fd, tmp) and _unlink_quietly(tmp)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
