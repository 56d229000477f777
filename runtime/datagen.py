"""The numbers behind every data set: generation, file reading, the split and preprocessing.

This module owns the *pure numeric* half of data loading. ``runtime.data.load_dataset`` calls
it, and the code exporter copies its functions verbatim into the standalone script (with
``inspect.getsource``) so that the script reproduces the in-app arrays bit for bit. Hence:

* it imports only numpy and the standard library at module level (scikit-learn is imported
  inside :func:`load_sklearn` only, as the exported script would);
* every public function is top-level and depends only on numpy, the standard library and other
  functions or constants of this file (e.g. ``read_csv`` needs ``open_data_file`` and its
  ``csv_*`` helpers, and those need ``MAX_ROWS``, ``resolve_task``, ...); the exporter works
  those out from the source (runtime/export/sources.py) and copies them along, transitively;
* file readers raise ``ValueError`` whose message names the file, row and column (CSV) or the
  array (NPZ); ``runtime.data`` turns them into ``DataError``;
* file readers read regular files only (:func:`open_data_file`): a device such as
  ``/dev/zero`` or a FIFO such as ``/dev/stdin`` is refused by name, never opened or read.
  ``graph.datasets.check_path`` makes the same check for analysis (graph cannot import numpy,
  and this module cannot import graph: its functions are copied into exported scripts).

How ``load_dataset(params)`` calls this module (the exporter emits the same calls, in order):

1. Raw arrays ``x, y`` for ``params["dataset"]``:

   * a synthetic set (a key of ``GENERATORS``)::

         rng = np.random.default_rng(params["split_seed"])
         x, y = GENERATORS[name](*[params[a] for a in GENERATOR_ARGS[name]], rng)

     e.g. ``make_spirals(params["n_samples"], params["classes"], params["noise"], rng)``.
   * a scikit-learn set: ``x, y, class_names = load_sklearn(name)`` (the app reads the same
     files faster without importing scikit-learn; a test checks the arrays are identical).
     ``digits`` with ``layout == "image"``: ``x = x.reshape(-1, 1, 8, 8)``.
   * ``csv``: ``x, y, class_names = read_csv(path, params["target_column"], params["task"])``.
   * ``npz``: ``x, y, class_names = read_npz(path, params["task"])``.

2. ``train, val, test = split_indices(len(x), params["val_split"], params["test_split"],
   params["split_seed"])``.
3. ``stats = fit_preprocessing(params["preprocessing"], x[train], params["pca_components"],
   params["whiten_eps"])`` — fitted on the training rows only.
4. ``x_train = apply_preprocessing(stats, x[train])``, likewise ``x[val]`` and ``x[test]``;
   targets are ``y[train]``, ``y[val]``, ``y[test]`` (never preprocessed: regression targets
   keep their raw scale).

Invariants: features are float32 ``(N, *shape)`` (int64 ``(N, seq_len)`` for token ids and for
integer ``.npz`` features); classification targets are int64 ``(N,)`` in ``[0, classes)``;
regression targets are float32 ``(N, d)``. Class labels from files map to indices by their
position in the sorted unique labels (numbers numerically, text lexically), the rule of
``graph.datasets``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile

import numpy as np

# ---------------------------------------------------------------- synthetic sets


def make_xor(n, noise, rng):
    """The corners (0,0), (0,1), (1,0), (1,1) tiled to ``n`` samples, plus N(0, noise²) noise.

    Coordinates are 0/1 (the unit square); class = x1 XOR x2. Sample ``i`` is corner ``i % 4``,
    so ``n = 4`` gives each corner exactly once.
    """
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    idx = np.arange(n) % 4
    x = corners[idx] + rng.normal(0.0, noise, size=(n, 2))
    return x.astype(np.float32), labels[idx]


def make_moons(n, noise, rng):
    """Two interleaving half circles (class 0 the upper arc, class 1 the lower), like sklearn's."""
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    x = np.concatenate([outer, inner]) + rng.normal(0.0, noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return x.astype(np.float32), y


def make_circles(n, noise, rng, factor=0.5):
    """A circle of radius ``factor`` (class 1) inside one of radius 1 (class 0), plus noise."""
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1)
    x = np.concatenate([outer, inner]) + rng.normal(0.0, noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return x.astype(np.float32), y


def make_spirals(n, classes, noise, rng):
    """``classes`` interleaved spiral arms from the centre to radius 1, one per class.

    Arm ``k`` has angle ``2·pi·k/classes + 4·r`` at radius ``r``; samples are spread as evenly
    as possible over the arms (the first ``n % classes`` arms get one more).
    """
    xs, ys = [], []
    for k in range(classes):
        m = n // classes + (1 if k < n % classes else 0)
        r = np.linspace(0.05, 1.0, m)
        theta = 2.0 * np.pi * k / classes + 4.0 * r
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(m, k, dtype=np.int64))
    x = np.concatenate(xs) + rng.normal(0.0, noise, size=(n, 2))
    return x.astype(np.float32), np.concatenate(ys)


def make_blobs(n, classes, noise, rng):
    """Isotropic Gaussian clusters with std ``noise``, centred evenly on a circle of radius 2.

    Sample ``i`` belongs to class ``i % classes``, so classes are balanced.
    """
    angles = 2.0 * np.pi * np.arange(classes) / classes
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = np.arange(n, dtype=np.int64) % classes
    x = centres[y] + rng.normal(0.0, noise, size=(n, 2))
    return x.astype(np.float32), y


def make_sine(n, noise, rng):
    """Regression: x uniform in [-pi, pi], y = sin(x) + N(0, noise²); both shaped (n, 1)."""
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(x) + rng.normal(0.0, noise, size=(n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def make_sequences(n, seq_len, rng):
    """Sequences of N(0, 1) steps shaped (n, seq_len, 1); class 1 when the sum of the first
    ``min(3, seq_len)`` steps is positive. The label is decided at the start, so a recurrent
    model must carry it to the end of the sequence (it needs memory)."""
    x = rng.normal(0.0, 1.0, size=(n, seq_len, 1))
    y = (x[:, :3, 0].sum(axis=1) > 0).astype(np.int64)
    return x.astype(np.float32), y


def make_tokens(n, seq_len, rng):
    """Token ids in [0, 16), int64 (n, seq_len); class 1 when token 1 occurs before token 2.

    Every sequence holds exactly one 1 and one 2 at two random positions; the other positions
    hold fillers drawn from [3, 16) (0 stays unused, free for padding). The order of the pair is
    a fair coin per sample, so the classes are balanced.
    """
    x = rng.integers(3, 16, size=(n, seq_len), dtype=np.int64)
    pos = np.argsort(rng.random((n, seq_len)), axis=1)[:, :2]
    first = pos.min(axis=1)
    second = pos.max(axis=1)
    y = rng.integers(0, 2, size=n, dtype=np.int64)
    rows = np.arange(n)
    x[rows, first] = np.where(y == 1, 1, 2)
    x[rows, second] = np.where(y == 1, 2, 1)
    return x, y


GENERATORS = {
    "xor": make_xor,
    "moons": make_moons,
    "circles": make_circles,
    "spirals": make_spirals,
    "blobs": make_blobs,
    "sine": make_sine,
    "sequences": make_sequences,
    "tokens": make_tokens,
}

# The Dataset parameters passed, in order, before ``rng`` (see the module docstring).
GENERATOR_ARGS = {
    "xor": ("n_samples", "noise"),
    "moons": ("n_samples", "noise"),
    "circles": ("n_samples", "noise"),
    "spirals": ("n_samples", "classes", "noise"),
    "blobs": ("n_samples", "classes", "noise"),
    "sine": ("n_samples", "noise"),
    "sequences": ("n_samples", "seq_len"),
    "tokens": ("n_samples", "seq_len"),
}

# ---------------------------------------------------------------- scikit-learn sets

# name -> (function of sklearn.datasets, keyword arguments). Diabetes uses the raw, unscaled
# features (scikit-learn's default rescales them); its target is the raw disease progression.
SKLEARN_LOADERS = {
    "iris": ("load_iris", {}),
    "wine": ("load_wine", {}),
    "breast_cancer": ("load_breast_cancer", {}),
    "digits": ("load_digits", {}),
    "diabetes": ("load_diabetes", {"scaled": False}),
}


def load_sklearn(name):
    """``(x float32 (N, d), y, class_names)`` for a scikit-learn set; regression y is (N, 1)."""
    import sklearn.datasets

    func, kwargs = SKLEARN_LOADERS[name]
    bunch = getattr(sklearn.datasets, func)(**kwargs)
    x = np.asarray(bunch.data, dtype=np.float32)
    if name == "diabetes":
        return x, np.asarray(bunch.target, dtype=np.float32).reshape(-1, 1), None
    names = [str(t) for t in bunch.target_names]
    return x, np.asarray(bunch.target, dtype=np.int64), names


# ---------------------------------------------------------------- files

MAX_ROWS = 1_000_000
MAX_FILE_BYTES = 2 * 1024**3
NPZ_FEATURE_KEYS = ("x", "X", "features")
NPZ_TARGET_KEYS = ("y", "Y", "target", "targets", "labels")


# The file-type bits of st_mode (stat.S_IFMT) and their kinds in words. Spelled out rather
# than imported: exported scripts import only the modules runtime.export.STDLIB_IMPORTS lists,
# and POSIX fixes these values (Python uses them on Windows too); a test compares with stat's.
FILE_TYPE_MASK = 0o170000
REGULAR_FILE = 0o100000
FILE_KINDS = {0o040000: "a folder", 0o020000: "a character device", 0o060000: "a block device",
              0o010000: "a FIFO (named pipe)", 0o140000: "a socket"}


def open_data_file(path, what):
    """Open a regular file for reading in binary; anything else is refused by name.

    ``os.stat`` comes first and nothing else is opened: opening a FIFO blocks until a writer
    comes, and a device such as /dev/zero never ends. The descriptor is opened without blocking
    and checked again, in case the path was swapped between the two.
    """
    try:
        mode = os.stat(path).st_mode
        if mode & FILE_TYPE_MASK == REGULAR_FILE:
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
            fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
            mode = os.fstat(fd).st_mode
            if mode & FILE_TYPE_MASK == REGULAR_FILE:
                return os.fdopen(fd, "rb")
            os.close(fd)
    except OSError as exc:
        raise ValueError(f"cannot open {what} '{path}': {exc.strerror or exc}") from None
    kind = FILE_KINDS.get(mode & FILE_TYPE_MASK, "not a file")
    raise ValueError(f"{what} path '{path}' is {kind}, not a regular file")


def resolve_task(task, values):
    """classification or regression for target ``values`` (floats, or strings when not all
    numeric): ``task`` unless "auto"; auto = text, or at most 20 distinct integers, is classes."""
    if task != "auto":
        return task
    if any(isinstance(v, str) for v in values):
        return "classification"
    if all(float(v).is_integer() for v in values) and len(set(values)) <= 20:
        return "classification"
    return "regression"


def encode_classes(values):
    """Class indices by position in the sorted unique labels, and the label of each index."""
    labels = sorted(set(values))
    index = {v: i for i, v in enumerate(labels)}
    y = np.array([index[v] for v in values], dtype=np.int64)
    names = [v if isinstance(v, str) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
             for v in labels]
    return y, names


def read_csv(path, target_column="", task="auto"):
    """Read a CSV file with a header row: ``(x float32 (N, F), y, class_names or None)``.

    ``target_column`` names the target ('' = the last column); every other column is a numeric
    feature. Rows are counted as file lines, the header being row 1; blank lines are skipped.
    """
    name = os.path.basename(path)
    with open_data_file(path, "CSV file") as fh:
        try:
            data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"cannot read CSV file '{path}': {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(csv_text(data, name), newline=""))
    try:
        header, t = csv_header(reader, name, target_column)
        rows, targets, lines = csv_rows(reader, header, t, name)
    except csv.Error as exc:
        raise ValueError(f"{name} row {max(reader.line_num, 1)}: cannot be parsed as CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{name} has a header but no data rows")
    x = np.array(rows, dtype=np.float64).astype(np.float32)
    y, class_names = csv_target(targets, lines, name, header[t], task)
    return x, y, class_names


def csv_text(data, name):
    """The text of a CSV file's bytes ``data`` (at most MAX_FILE_BYTES, UTF-8, a byte order
    mark dropped, not blank); ``name``: the file's name, for messages."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{name} is larger than {MAX_FILE_BYTES // 1024**2} MiB")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte order mark, as spreadsheet programs write
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"{name} row {row}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start}); save the file as UTF-8") from None
    if not text.strip():
        raise ValueError(f"{name} is empty: expected a header row and data rows")
    return text


def csv_header(reader, name, target_column):
    """``(column names, index of the target column)`` from the header row of ``reader``."""
    header = [h.strip() for h in next(reader)]
    if not any(header):
        raise ValueError(f"{name} row 1: the header row is empty")
    for i, h in enumerate(header):
        if not h:
            raise ValueError(f"{name} row 1: column {i + 1} of the header has no name")
        if h in header[:i]:
            raise ValueError(f"{name} row 1: column name '{h}' appears twice in the header "
                             f"(columns {header.index(h) + 1} and {i + 1})")
    if len(header) < 2:
        raise ValueError(f"{name} has a single column ({header[0][:40]!r}): it needs at least one "
                         "feature column besides the target (columns are separated by commas)")
    if not target_column:
        return header, len(header) - 1
    if target_column not in header:
        shown = ", ".join(repr(h) for h in header[:12])
        raise ValueError(f"{name}: target column {target_column!r} is not in the header; "
                         f"columns: {shown}")
    return header, header.index(target_column)


def csv_rows(reader, header, t, name):
    """The data rows after the header: ``(feature values of each row, target cell of each row,
    the file line where each row starts)``; ``t``: the target column's index."""
    feature_cols = [i for i in range(len(header)) if i != t]
    rows, targets, lines = [], [], []
    end = reader.line_num
    for row in reader:
        # A quoted field may span lines: report the line where the record starts.
        line, end = end + 1, reader.line_num
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            spans = f" (it runs to row {end}: is a quote left open?)" if end > line else ""
            raise ValueError(f"{name} row {line} has {len(row)} fields; the header has "
                             f"{len(header)}{spans}")
        if len(rows) >= MAX_ROWS:
            raise ValueError(f"{name} has more than {MAX_ROWS} data rows")
        values = csv_features(row, feature_cols, header, f"{name} row {line}")
        cell = row[t].strip()
        if not cell:
            raise ValueError(f"{name} row {line}, column '{header[t]}': the target cell is empty")
        rows.append(values)
        targets.append(cell)
        lines.append(line)
    return rows, targets, lines


def csv_features(row, feature_cols, header, where_row):
    """The feature cells of one CSV row as floats (finite, within float32's range)."""
    values = []
    for i in feature_cols:
        cell = row[i].strip()
        where = f"{where_row}, column '{header[i]}'"
        if not cell:
            raise ValueError(f"{where}: the cell is empty")
        try:
            v = float(cell)
        except ValueError:
            raise ValueError(f"{where}: {cell[:40]!r} is not a number") from None
        if not math.isfinite(v) or abs(v) > 3.4e38:
            raise ValueError(f"{where}: {cell[:40]!r} is not a finite float32 number")
        values.append(v)
    return values


def csv_target(targets, lines, name, target_name, task):
    """``(y, class_names or None)`` from the target cells of a CSV file (``lines``: the file line
    of each; ``name``, ``target_name``: the file's and the column's, for messages)."""
    parsed = []
    for cell in targets:
        try:
            parsed.append(float(cell))
        except ValueError:
            parsed.append(None)
    all_floats = all(v is not None for v in parsed)
    finite = all_floats and all(math.isfinite(v) for v in parsed)
    if all_floats and not finite and task != "classification":
        i = next(i for i, v in enumerate(parsed) if not math.isfinite(v))
        raise ValueError(f"{name} row {lines[i]}, column '{target_name}': {targets[i][:40]!r} is not "
                         "a finite number")
    values = parsed if finite else targets
    if resolve_task(task, values) == "classification":
        return encode_classes(values)
    if not finite:
        i = next(i for i, v in enumerate(parsed) if v is None)
        raise ValueError(f"{name} row {lines[i]}, column '{target_name}': {targets[i][:40]!r} is not a "
                         "number (a regression target must be numeric)")
    return np.array(parsed, dtype=np.float32).reshape(-1, 1), None


def read_npz(path, task="auto"):
    """Read a NumPy ``.npz`` archive without unpickling: ``(x, y, class_names or None)``.

    Features come from the array named x, X or features (float32, or int64 for integer arrays
    such as token ids); the target from y, Y, target, targets or labels. Auto task: an integer
    target is classes, anything else regression (a regression target becomes (N, d)).
    """
    name = os.path.basename(path)
    with open_data_file(path, ".npz file") as fh:
        (fx, x), (fy, y) = npz_arrays(fh, name)
    for key, a in ((fx, x), (fy, y)):
        npz_check_numbers(a, key, name)
    npz_check_shapes(x, fx, y, fy, name)
    x = npz_features(x, fx, name)
    kind = task
    if kind == "auto":
        kind = "classification" if y.dtype.kind in "iub" else "regression"
    if kind == "classification":
        y, class_names = npz_classes(y, fy, name)
        return x, y, class_names
    return x, npz_regression_target(y, fy, name), None


def npz_check_numbers(a, key, name):
    """Array ``key`` of the archive ``name`` holds numbers, and no NaN or infinity."""
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name}: array '{key}' has dtype {a.dtype}; expected numbers "
                         "(bool, integer or float)")
    if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        bad = int(np.argwhere(~np.isfinite(a))[0][0])
        raise ValueError(f"{name}: array '{key}' holds NaN or infinite values (first at sample {bad})")


def npz_check_shapes(x, fx, y, fy, name):
    """Features ``x`` have samples and features; the target ``y`` one entry per sample."""
    if x.ndim < 2:
        raise ValueError(f"{name}: features array '{fx}' must have a sample axis and features; "
                         f"shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: features array '{fx}' has 0 samples")
    if 0 in x.shape[1:]:
        raise ValueError(f"{name}: features array '{fx}' has an empty axis; shape {x.shape}")
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name}: target '{fy}' has shape {y.shape} but features '{fx}' have "
                         f"{x.shape[0]} samples")


def npz_features(x, fx, name):
    """The features as int64 (integer arrays, such as token ids) or float32."""
    if x.dtype.kind in "iu":
        if x.dtype == np.uint64 and x.size and int(x.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: features array '{fx}' holds integers too large for int64")
        return x.astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: features array '{fx}' holds values beyond the float32 range")
    return x


def npz_classes(y, fy, name):
    """``(class indices, class names)`` of an integer class target."""
    if y.ndim != 1:
        raise ValueError(f"{name}: classification target '{fy}' must be 1-D; shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{name}: classification target '{fy}' must hold integers; dtype {y.dtype}")
    if y.shape[0] > MAX_ROWS:
        raise ValueError(f"{name}: target '{fy}' has {y.shape[0]} rows; at most {MAX_ROWS}")
    labels, inverse = np.unique(y, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), [str(int(v)) for v in labels]


def npz_regression_target(y, fy, name):
    """A regression target as float32 ``(N, d)``."""
    shape = y.shape
    y = y.reshape(y.shape[0], -1)
    if y.shape[1] == 0:
        raise ValueError(f"{name}: target '{fy}' has no values per sample; shape {shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        y = y.astype(np.float32)
    if not np.isfinite(y).all():
        raise ValueError(f"{name}: target '{fy}' holds values beyond the float32 range")
    return y


def npz_arrays(fh, name):
    """``((features key, array), (target key, array))`` of the .npz archive open in ``fh``
    (``name``: the file's name, for messages). Pickled members are never loaded."""
    magic = fh.read(4)
    if magic[:2] != b"PK":
        what = " (it looks like a pickle, which is never loaded)" if magic[:1] == b"\x80" else ""
        raise ValueError(f"{name} is not an .npz archive (a zip of .npy arrays){what}")
    try:
        with zipfile.ZipFile(fh) as zf:
            infos = {i.filename: i for i in zf.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{name} is not a readable .npz archive: {exc}") from None
    stems = {(n[:-4] if n.endswith(".npy") else n): n for n in infos}
    fx = next((k for k in NPZ_FEATURE_KEYS if k in stems), None)
    fy = next((k for k in NPZ_TARGET_KEYS if k in stems), None)
    if fx is None or fy is None:
        raise ValueError(f"{name}: an .npz file needs a features array named x, X or features and a "
                         f"target array named y, target or labels; it has {sorted(stems)[:10]}")
    for key in (fx, fy):
        if infos[stems[key]].file_size > MAX_FILE_BYTES:
            raise ValueError(f"{name}: array '{key}' is larger than {MAX_FILE_BYTES // 1024**2} MiB")
    arrays = {}
    fh.seek(0)
    try:
        npz = np.load(fh, allow_pickle=False)
    except Exception as exc:  # an untrusted file: any failure to open it is a data error
        raise ValueError(f"{name} cannot be read as .npz: {exc}") from None
    with npz:
        for key in (fx, fy):
            try:
                arrays[key] = npz[key]
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "bject arrays" in str(exc):
                    raise ValueError(f"{name}: array '{key}' holds Python objects (pickled data), "
                                     "which are never loaded; store numbers") from None
                raise ValueError(f"{name}: array '{key}' cannot be read: {exc}") from None
            except Exception as exc:  # truncated or corrupt member: report, never crash
                raise ValueError(f"{name}: array '{key}' cannot be read: {type(exc).__name__}: {exc}") from None
            if not isinstance(arrays[key], np.ndarray):  # numpy hands back raw bytes for non-.npy members
                raise ValueError(f"{name}: array '{key}' is not a .npy array")
    return (fx, arrays[fx]), (fy, arrays[fy])


# ---------------------------------------------------------------- split and preprocessing


def split_indices(n, val_split, test_split, seed):
    """``(train, val, test)`` row indices from one permutation of ``default_rng(seed + 1)``.

    ``n_test = round(n * test_split)`` rows come first, then ``n_val = round(n * val_split)``,
    and the rest train (Python's ``round``). Raises ValueError when no training row is left.
    """
    perm = np.random.default_rng(seed + 1).permutation(n)
    n_test = int(round(n * test_split))
    n_val = int(round(n * val_split))
    if n - n_test - n_val < 1:
        raise ValueError(f"{n} samples leave no training rows after {n_val} validation and "
                         f"{n_test} test rows; lower val_split or test_split")
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def fit_preprocessing(kind, x_train, components=0, eps=1e-5):
    """Fit preprocessing statistics on the training features only; plain Python data out.

    Statistics are per feature over the flattened sample (per pixel for images), in float64.
    Constant features never divide by zero: a zero std or range counts as 1. ``pca`` rotates
    onto the principal axes of the training covariance (population, divided by N), largest
    variance first, each axis signed so its largest-magnitude loading is positive; it keeps
    ``components`` axes (0 = all). ``whiten`` then divides each by ``sqrt(variance + eps)``.
    """
    if kind == "none":
        return {"kind": "none"}
    flat = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), int(np.prod(np.shape(x_train)[1:])))
    if len(flat) == 0:
        raise ValueError("preprocessing needs at least one training sample")
    mean = flat.mean(axis=0)
    if kind == "center":
        return {"kind": "center", "mean": mean.tolist()}
    if kind == "zscore":
        std = flat.std(axis=0)
        std[std == 0] = 1.0
        return {"kind": "zscore", "mean": mean.tolist(), "std": std.tolist()}
    if kind == "minmax":
        low = flat.min(axis=0)
        span = flat.max(axis=0) - low
        span[span == 0] = 1.0
        return {"kind": "minmax", "min": low.tolist(), "range": span.tolist()}
    if kind in ("pca", "whiten"):
        if np.ndim(x_train) != 2:
            raise ValueError(f"preprocessing '{kind}' needs flat features; got shape {np.shape(x_train)[1:]}")
        d = flat.shape[1]
        k = components or d
        if k > d:
            raise ValueError(f"pca_components is {k} but the data has only {d} features")
        centred = flat - mean
        cov = centred.T @ centred / len(flat)
        variance, vectors = np.linalg.eigh(cov)
        order = np.argsort(variance)[::-1][:k]
        variance = np.clip(variance[order], 0.0, None)
        axes = vectors[:, order].T
        signs = np.sign(axes[np.arange(k), np.argmax(np.abs(axes), axis=1)])
        axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
        stats = {"kind": kind, "mean": mean.tolist(), "components": axes.tolist(),
                 "variance": variance.tolist()}
        if kind == "whiten":
            stats["eps"] = float(eps)
            stats["scale"] = np.sqrt(variance + eps).tolist()
        return stats
    raise ValueError(f"unknown preprocessing {kind!r}")


def apply_preprocessing(stats, x):
    """Apply statistics from :func:`fit_preprocessing` to any split; float32 out.

    Shapes are kept (images stay images), except pca/whiten, which give (N, components).
    """
    kind = stats["kind"]
    if kind == "none":
        return x
    # An explicit width, not -1: a split with 0 rows must still reshape.
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), int(np.prod(np.shape(x)[1:])))
    mean = np.asarray(stats.get("mean", stats.get("min")), dtype=np.float64)
    if kind == "center":
        out = flat - mean
    elif kind == "zscore":
        out = (flat - mean) / np.asarray(stats["std"], dtype=np.float64)
    elif kind == "minmax":
        out = (flat - mean) / np.asarray(stats["range"], dtype=np.float64)
    elif kind in ("pca", "whiten"):
        axes = np.asarray(stats["components"], dtype=np.float64).reshape(-1, flat.shape[1])
        out = (flat - mean) @ axes.T
        if kind == "whiten":
            out = out / np.asarray(stats["scale"], dtype=np.float64)
        return out.astype(np.float32)
    else:
        raise ValueError(f"unknown preprocessing {kind!r}")
    return out.reshape(np.shape(x)).astype(np.float32)
