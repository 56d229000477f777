"""The standard image sets: their descriptions, the data folder, downloading (progress, resume,
a server that ignores Range, checksum mismatch, offline within seconds, cancel, atomic publish)
and parsing the official formats (round trips; truncated and hostile files refused by name).

Nothing here touches the internet: every download comes from ``tests.runtime.fake_mirror`` on
127.0.0.1, and a guard makes any other host name fail to resolve."""

from __future__ import annotations

import gzip
import os
import socket
import tarfile
import threading
import time

import numpy as np
import pytest

from runtime.errors import DataError
from runtime.standard_sets import (
    NAMES,
    SETS,
    Checksum,
    ChecksumError,
    DownloadCancelled,
    DownloadError,
    MissingFilesError,
    Progress,
    SetFileError,
    StandardSetError,
    UnknownSetError,
    ensure,
    is_downloaded,
    load,
    missing_files,
    progress_line,
    read_cifar_tar,
    read_idx,
    spec,
)
from runtime.standard_sets.specs import _data_folder
from tests.runtime.fake_mirror import (
    CIFAR_NAME,
    MNIST_NAMES,
    FakeMirror,
    SilentServer,
    cifar_members,
    closed_port_url,
    idx,
    mnist_files,
    sha256,
    tar_gz,
)

BIG = 200_000  # bytes: several 64 KiB chunks, so progress, cut and cancel happen mid-file


@pytest.fixture(autouse=True)
def local_only(monkeypatch, tmp_path):
    """No proxy, a private data folder, and no host name but localhost resolves."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETWRIGHT_DATA", str(tmp_path / "default-data"))
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no host but 127.0.0.1 (asked {host})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def blobs(seed: int = 1) -> dict[str, bytes]:
    """Random content under the MNIST names: ``ensure`` never parses, so any bytes will do."""
    rng = np.random.default_rng(seed)
    return {name: rng.bytes(BIG) for name in MNIST_NAMES}


def sums(files: dict[str, bytes]) -> dict[str, str]:
    return {name: sha256(data) for name, data in files.items()}


def mnist_at(tmp_path, files: dict[str, bytes]):
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


# ------------------------------------------------------------------ descriptions and folders


def test_each_set_is_described_by_its_official_files_classes_and_shapes():
    assert NAMES == ("mnist", "fashion_mnist", "cifar10")
    mnist, fashion, cifar = (SETS[n] for n in NAMES)
    assert [f.name for f in mnist.files] == list(MNIST_NAMES) == [f.name for f in fashion.files]
    assert mnist.files[0].checksum == Checksum("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873")
    assert fashion.files[3].checksum.digest == "bb300cfdad3c16e7a12a480ee83cd310"
    assert [f.name for f in cifar.files] == [CIFAR_NAME]  # the binary release, never the pickles
    assert cifar.files[0].checksum.digest == "c32a1d4ab5d03f1284b67883e8d87530"
    assert (mnist.shape, fashion.shape, cifar.shape) == ((1, 28, 28), (1, 28, 28), (3, 32, 32))
    assert [(s.train_size, s.test_size) for s in (mnist, fashion, cifar)] == [(60000, 10000)] * 2 + [(50000, 10000)]
    assert mnist.class_names == tuple("0123456789")
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[-1] == "Ankle boot"
    assert cifar.class_names[:2] == ("airplane", "automobile") and len(cifar.class_names) == 10
    assert mnist.mirrors[0].startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
    assert "yann.lecun.com" in mnist.mirrors[1]
    assert fashion.mirrors[0].startswith("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
    assert cifar.mirrors == ("https://www.cs.toronto.edu/~kriz/",)
    assert all(m.endswith("/") for s in SETS.values() for m in s.mirrors)
    assert 170_000_000 < cifar.download_bytes < 171_000_000
    with pytest.raises(UnknownSetError, match="'svhn'.*mnist, fashion_mnist, cifar10"):
        spec("svhn")


def test_the_data_folder_follows_the_variable_then_the_platform_cache(tmp_path):
    home = tmp_path / "home"
    assert _data_folder({"NETWRIGHT_DATA": str(tmp_path / "d")}, "linux", home) == tmp_path / "d"
    assert _data_folder({}, "linux", home) == home / ".cache/netwright/data"
    assert _data_folder({"XDG_CACHE_HOME": "/x/cache"}, "linux", home).as_posix() == "/x/cache/netwright/data"
    assert _data_folder({"XDG_CACHE_HOME": "relative"}, "linux", home) == home / ".cache/netwright/data"
    assert _data_folder({}, "darwin", home) == home / "Library/Caches/netwright/data"
    assert _data_folder({"LOCALAPPDATA": str(tmp_path / "L")}, "win32", home) == tmp_path / "L/netwright/data"
    assert _data_folder({}, "win32", home) == home / "AppData/Local/netwright/data"


def test_checksums_parse_from_hex_with_or_without_the_algorithm():
    assert Checksum.parse("F68B3C2DCBEAAA9FBDD348BBDEB94873").algorithm == "md5"
    assert Checksum.parse("sha256:" + "a" * 64) == Checksum("sha256", "a" * 64)
    for bad in ("xyz", "md5:" + "a" * 64, "g" * 32):
        with pytest.raises(StandardSetError, match="neither 32 hex digits"):
            Checksum.parse(bad)


def test_errors_are_data_errors_so_the_command_line_exits_2():
    for cls in (DownloadError, ChecksumError, DownloadCancelled, MissingFilesError, SetFileError, UnknownSetError):
        assert issubclass(cls, StandardSetError) and issubclass(cls, DataError)


def test_progress_line_draws_a_bar_or_a_count():
    p = Progress("a.gz", 5_000_000, 10_000_000, 1, 4)
    assert progress_line(p, width=10) == "[1/4] a.gz [#####-----] 5.0 MB / 10.0 MB  50%"
    assert progress_line(Progress("a.gz", 1_500_000, None, 2, 4)) == "[2/4] a.gz 1.5 MB"
    assert p.fraction == 0.5 and Progress("a", 3, None, 1, 1).fraction is None


# ------------------------------------------------------------------ downloading


def test_download_reports_increasing_progress_and_publishes_only_verified_files(tmp_path):
    files = blobs()
    reports: list[Progress] = []
    final = tmp_path / "data" / "mnist" / MNIST_NAMES[0]

    def on_progress(p: Progress) -> None:
        if p.file == MNIST_NAMES[0]:
            assert not final.exists()  # nothing under the final name until it is verified
        reports.append(p)

    with FakeMirror(files) as mirror:
        where = ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files),
                       progress=on_progress)
        again = len(mirror.requests)
        ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files))
        assert len(mirror.requests) == again == 4  # present and verified: no second download
    assert where == tmp_path / "data" / "mnist"
    assert {p.name: p.read_bytes() for p in where.iterdir()} == files  # no .part left
    first = [p for p in reports if p.file == MNIST_NAMES[0]]
    assert [p.done for p in first] == sorted(p.done for p in first) and len(first) >= 4
    assert first[0].done == 0 and first[-1].done == first[-1].total == BIG
    assert {(p.file_number, p.file_count) for p in first} == {(1, 4)}
    assert is_downloaded("mnist", tmp_path / "data") and missing_files("mnist", tmp_path / "data") == ()


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path):
    files = blobs()
    name = MNIST_NAMES[1]
    part = tmp_path / "data" / "mnist" / (name + ".part")
    with FakeMirror(files, cut_after={name: 70_000}) as mirror:
        with pytest.raises(DownloadError, match="ended|IncompleteRead|expected") as err:
            ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files))
        assert part.stat().st_size == 70_000 and not part.with_suffix("").exists()
        assert err.value.files == MNIST_NAMES[1:]
        ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files))
        assert mirror.ranges(name) == [None, "bytes=70000-"]
    assert (tmp_path / "data" / "mnist" / name).read_bytes() == files[name] and not part.exists()


def test_a_server_that_ignores_range_is_read_from_the_start(tmp_path):
    files = blobs()
    folder = mnist_at(tmp_path, {})
    (folder / (MNIST_NAMES[0] + ".part")).write_bytes(b"stale bytes from somewhere else")
    with FakeMirror(files, ignore_range=True) as mirror:
        ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files))
        assert mirror.ranges(MNIST_NAMES[0]) == ["bytes=31-"]
    assert (folder / MNIST_NAMES[0]).read_bytes() == files[MNIST_NAMES[0]]


@pytest.mark.parametrize("part_bytes", [1000, BIG + 5])  # wrong bytes resumed; a part too long (416)
def test_a_part_that_cannot_be_continued_is_downloaded_again(tmp_path, part_bytes):
    files = blobs()
    folder = mnist_at(tmp_path, {})
    (folder / (MNIST_NAMES[0] + ".part")).write_bytes(b"x" * part_bytes)
    with FakeMirror(files) as mirror:
        ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files))
        assert mirror.ranges(MNIST_NAMES[0]) == [f"bytes={part_bytes}-", None]
    assert (folder / MNIST_NAMES[0]).read_bytes() == files[MNIST_NAMES[0]]


def test_a_checksum_mismatch_removes_the_download_and_says_so(tmp_path):
    files = blobs()
    wrong = dict(sums(files), **{MNIST_NAMES[0]: "0" * 64})
    with FakeMirror(files) as mirror, pytest.raises(ChecksumError) as err:
        ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=wrong)
    message = str(err.value)
    assert "checksum" in message and MNIST_NAMES[0] in message
    assert "0" * 64 in message and sha256(files[MNIST_NAMES[0]]) in message
    assert (err.value.file, err.value.expected, err.value.got) == (MNIST_NAMES[0], "0" * 64, sha256(files[MNIST_NAMES[0]]))
    assert list((tmp_path / "data" / "mnist").iterdir()) == []  # neither the final name nor a .part


def test_a_present_file_with_the_wrong_checksum_is_left_alone_and_named(tmp_path):
    files = blobs()
    folder = mnist_at(tmp_path, {MNIST_NAMES[0]: b"not the official file"})
    with pytest.raises(ChecksumError, match="damaged or another file. Remove it") as err:
        ensure("mnist", folder=tmp_path / "data", urls=[closed_port_url()], checksums=sums(files))
    assert str(folder / MNIST_NAMES[0]) in str(err.value)
    assert (folder / MNIST_NAMES[0]).read_bytes() == b"not the official file"


def test_mirrors_are_tried_in_order(tmp_path):
    files = blobs()
    with FakeMirror({}) as empty, FakeMirror(files) as full:
        ensure("mnist", folder=tmp_path / "data", urls=[empty.url, full.url], checksums=sums(files))
        assert len(empty.requests) == len(full.requests) == 4
    assert is_downloaded("mnist", tmp_path / "data")


def test_a_complete_part_is_published_without_the_network(tmp_path):
    files = blobs()
    folder = mnist_at(tmp_path, {n + (".part" if i == 0 else ""): d for i, (n, d) in enumerate(files.items())})
    ensure("mnist", folder=tmp_path / "data", urls=[closed_port_url()], checksums=sums(files))
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_NAMES)


def test_offline_fails_within_seconds_naming_the_urls_and_the_folder(tmp_path):
    closed = closed_port_url()
    with SilentServer() as silent:
        start = time.monotonic()
        with pytest.raises(DownloadError) as err:
            ensure("mnist", folder=tmp_path / "data", urls=[closed, silent.url], timeout=0.5)
        elapsed = time.monotonic() - start
    assert elapsed < 10
    message = str(err.value)
    assert closed + MNIST_NAMES[0] in message and silent.url + MNIST_NAMES[0] in message
    assert "no answer within 0.5 s" in message
    assert str(tmp_path / "data" / "mnist") in message and all(n in message for n in MNIST_NAMES)
    assert err.value.urls == (closed + MNIST_NAMES[0], silent.url + MNIST_NAMES[0])
    assert err.value.folder == tmp_path / "data" / "mnist" and err.value.files == MNIST_NAMES


def test_a_resolver_that_never_answers_cannot_hang_the_download(tmp_path, monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: release.wait(30) and None)
    start = time.monotonic()
    try:
        with pytest.raises(DownloadError, match="looking up mirror.invalid took longer than 0.3 s"):
            ensure("cifar10", folder=tmp_path, urls=["http://mirror.invalid/"], timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - start < 5


def test_cancelling_keeps_the_part_and_the_next_run_resumes_it(tmp_path):
    files = blobs()
    folder = tmp_path / "data" / "mnist"

    def cancel_mid_file() -> bool:
        part = folder / (MNIST_NAMES[0] + ".part")
        return part.exists() and part.stat().st_size > 0

    with FakeMirror(files) as mirror:
        with pytest.raises(DownloadCancelled, match="kept in .*part"):
            ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files),
                   cancel=cancel_mid_file)
        kept = (folder / (MNIST_NAMES[0] + ".part")).stat().st_size
        assert 0 < kept < BIG and not (folder / MNIST_NAMES[0]).exists()
        ensure("mnist", folder=tmp_path / "data", urls=[mirror.url], checksums=sums(files))
        assert mirror.ranges(MNIST_NAMES[0]) == [None, f"bytes={kept}-"]
    assert (folder / MNIST_NAMES[0]).read_bytes() == files[MNIST_NAMES[0]]


def test_a_set_event_cancels_before_any_request(tmp_path):
    stop = threading.Event()
    stop.set()
    with FakeMirror(blobs()) as mirror:
        with pytest.raises(DownloadCancelled):
            ensure("mnist", folder=tmp_path, urls=[mirror.url], cancel=stop)
        assert mirror.requests == []


def test_bad_arguments_and_an_unwritable_folder_are_named(tmp_path):
    with pytest.raises(StandardSetError, match="not an http:// or https:// URL"):
        ensure("mnist", folder=tmp_path, urls=["file:///etc/"])
    with pytest.raises(StandardSetError, match="no file named nope.gz"):
        ensure("mnist", folder=tmp_path, urls=["http://127.0.0.1:9/"], checksums={"nope.gz": "0" * 32})
    (tmp_path / "blocked").write_text("a file where the data folder should be")
    with pytest.raises(StandardSetError, match="cannot create the folder .*blocked"):
        ensure("mnist", folder=tmp_path / "blocked", urls=["http://127.0.0.1:9/"])


def test_the_default_folder_is_used_when_none_is_given(tmp_path):
    files, _ = mnist_files()
    with FakeMirror(files) as mirror:
        where = ensure("mnist", urls=[mirror.url], checksums=sums(files))
    assert where == tmp_path / "default-data" / "mnist"
    assert len(load("mnist").x_train) == 20


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_files_load_as_published(tmp_path, name):
    files, (x_train, y_train, x_test, y_test) = mnist_files(n_train=20, n_test=7)
    with FakeMirror(files) as mirror:
        ensure(name, folder=tmp_path, urls=[mirror.url], checksums=sums(files))
    data = load(name, tmp_path)
    assert data.x_train.shape == (20, 1, 28, 28) and data.x_train.dtype == np.uint8
    assert np.array_equal(data.x_train[:, 0], x_train) and np.array_equal(data.x_test[:, 0], x_test)
    assert data.y_train.dtype == np.int64 and np.array_equal(data.y_train, y_train)
    assert np.array_equal(data.y_test, y_test) and data.x_train.flags.writeable
    assert data.class_names == SETS[name].class_names and data.shape == (1, 28, 28)


def test_the_cifar_binary_tar_loads_without_extracting(tmp_path):
    members, (x_train, y_train, x_test, y_test) = cifar_members(per_batch=3, n_test=4)
    files = {CIFAR_NAME: tar_gz(members)}
    with FakeMirror(files) as mirror:
        ensure("cifar10", folder=tmp_path, urls=[mirror.url], checksums=sums(files))
    data = load("cifar10", tmp_path)
    assert data.x_train.shape == (15, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
    assert np.array_equal(data.x_train, x_train) and np.array_equal(data.y_train, y_train)
    assert np.array_equal(data.x_test, x_test) and np.array_equal(data.y_test, y_test)
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == [CIFAR_NAME]
    assert data.class_names[-1] == "truck" and data.shape == (3, 32, 32)


def test_loading_before_the_download_names_the_folder_and_the_files(tmp_path):
    with pytest.raises(MissingFilesError) as err:
        load("fashion_mnist", tmp_path)
    assert str(tmp_path / "fashion_mnist") in str(err.value) and all(n in str(err.value) for n in MNIST_NAMES)
    assert not is_downloaded("fashion_mnist", tmp_path)


def pixels(n: int) -> bytes:
    return bytes(n * 28 * 28)


WRONG_IDX = {
    "bad magic": (idx(0x801, (2, 28, 28), pixels(2)), "magic number 0x00000801, expected 0x00000803"),
    "wrong dimension": (idx(0x803, (2, 28, 27), pixels(2)), "dimension 2 is 27, expected 28"),
    "truncated data": (idx(0x803, (3, 28, 28), pixels(2)), "truncated: 1568 of 2352 data bytes"),
    "trailing data": (idx(0x803, (2, 28, 28), pixels(2) + b"\0"), "bytes after the 1568"),
    "huge count": (idx(0x803, (10**7, 28, 28), b""), "declares 10000000 items"),
    "short header": (gzip.compress(b"\0\0\x08"), "ends inside its IDX header"),
    "not gzip": (b"plain bytes, not gzip", "not a readable gzip file"),
    "truncated gzip": (idx(0x803, (2, 28, 28), np.arange(1568, dtype=np.uint8).tobytes())[:-30],
                       "not a readable gzip file"),
}


@pytest.mark.parametrize("case", sorted(WRONG_IDX))
def test_a_wrong_idx_file_is_refused_by_name(tmp_path, case):
    data, message = WRONG_IDX[case]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(SetFileError, match=message) as err:
        read_idx(path, 0x803, (None, 28, 28))
    assert str(path) in str(err.value) and err.value.path == path


def test_idx_labels_must_match_the_images_and_the_classes(tmp_path):
    files, _ = mnist_files(n_train=5, n_test=2)
    mnist_at(tmp_path, dict(files, **{MNIST_NAMES[1]: idx(0x801, (4,), bytes(4))}))
    with pytest.raises(SetFileError, match="holds 5 images but .*train-labels-idx1-ubyte.gz' holds 4 labels"):
        load("mnist", tmp_path / "data")
    mnist_at(tmp_path / "b", dict(files, **{MNIST_NAMES[3]: idx(0x801, (2,), bytes([3, 12]))}))
    with pytest.raises(SetFileError, match="t10k-labels-idx1-ubyte.gz': label 12 at item 1; the set has 10 classes"):
        load("mnist", tmp_path / "b" / "data")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("POSIX only")
    fifo = tmp_path / "fifo.gz"
    os.mkfifo(fifo)
    with pytest.raises(SetFileError, match="not a regular file"):
        read_idx(fifo, 0x803, (None, 28, 28))


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def cifar_with(tmp_path, change) -> str:
    members, _ = cifar_members(per_batch=2, n_test=2)
    path = tmp_path / CIFAR_NAME
    path.write_bytes(tar_gz(change(members)))
    return path


def named(member) -> str:
    return member.name if isinstance(member, tarfile.TarInfo) else member[0]


def replaced(batch: str, new):
    """A change to the official members: ``new(member)`` stands in for the one named ``batch``."""
    return lambda members: [new(m) if named(m).endswith(batch) else m for m in members]


def added(*extra):
    return lambda members: members + list(extra)


HOSTILE_CIFAR = {
    "parent folder": (added(("../evil.bin", b"x")), "unsafe name: '../evil.bin'"),
    "absolute": (added(("/etc/evil.bin", b"x")), "unsafe name: '/etc/evil.bin'"),
    "parent inside": (added(("cifar-10-batches-bin/../../x", b"x")), "unsafe name"),
    "symlink": (added(link("cifar-10-batches-bin/extra", "/etc/passwd")), "'cifar-10-batches-bin/extra' is a link"),
    "batch as symlink": (replaced("data_batch_1.bin", lambda m: link(m[0], "/etc/passwd")), "is a link"),
    "hard link": (added(link("cifar-10-batches-bin/h", "x", tarfile.LNKTYPE)), "is a link"),
    "device": (added(link("cifar-10-batches-bin/dev", "", tarfile.CHRTYPE)), "not a regular file"),
    "missing batch": (lambda ms: [m for m in ms if not named(m).endswith("test_batch.bin")],
                      "lacks cifar-10-batches-bin/test_batch.bin"),
    "duplicate": (lambda ms: ms + [ms[2]], "holds cifar-10-batches-bin/data_batch_1.bin twice"),
    "partial record": (replaced("data_batch_2.bin", lambda m: (m[0], m[1][:-1])),
                       "data_batch_2.bin has 6145 bytes, not a whole number of 3073-byte records"),
    "empty batch": (replaced("data_batch_3.bin", lambda m: (m[0], b"")), "data_batch_3.bin has 0 bytes"),
    "label out of range": (replaced("test_batch.bin", lambda m: (m[0], bytes([10]) + m[1][1:])),
                           "member test_batch.bin: label 10 at item 0"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CIFAR))
def test_a_wrong_or_hostile_cifar_tar_is_refused_by_name(tmp_path, case):
    change, message = HOSTILE_CIFAR[case]
    path = cifar_with(tmp_path, change)
    with pytest.raises(SetFileError, match=message) as err:
        read_cifar_tar(path)
    assert str(path) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CIFAR_NAME]  # nothing was extracted


def test_a_truncated_cifar_tar_is_refused(tmp_path):
    path = cifar_with(tmp_path, lambda m: m)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SetFileError, match="not a readable tar.gz file|truncated"):
        read_cifar_tar(path)


def test_extra_safe_members_are_skipped_and_batch_order_is_by_number(tmp_path):
    members, (x_train, y_train, _, _) = cifar_members(per_batch=2, n_test=1)
    shuffled = [members[0], members[-1], *reversed(members[1:-1]), ("cifar-10-batches-bin/notes.txt", b"hi")]
    path = tmp_path / CIFAR_NAME
    path.write_bytes(tar_gz(shuffled))
    got = read_cifar_tar(path)
    assert np.array_equal(got[0], x_train) and np.array_equal(got[1], y_train)




def test_a_host_that_does_not_resolve_is_named(tmp_path):
    with pytest.raises(DownloadError, match="cannot look up mirror.invalid: .*offline"):
        ensure("mnist", folder=tmp_path, urls=["http://mirror.invalid/"])
