"""Both object stores (local directory and a real S3 server via the minio client)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from storage.objects import (
    InvalidObjectKey,
    ObjectNotFound,
    ObjectStore,
    download,
    materialize,
    put_bytes,
    read_bytes,
    validate_key,
)


class ChunkedSource(io.RawIOBase):
    """A stream that produces ``size`` pseudo-random bytes and can't be read in one go."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.max_read = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        assert n is not None and n > 0, "a store must not read the whole stream at once"
        self.max_read = max(self.max_read, n)
        n = min(n, self.left)
        data = os.urandom(n)
        self.left -= n
        self.digest.update(data)
        return data


def test_put_open_stat_list_delete(store: ObjectStore, tmp_path: Path) -> None:
    info = put_bytes(store, "titles/ab/kf/0001.jpg", b"jpeg-bytes", "image/jpeg")
    assert info.size == 10 and info.sha256 == hashlib.sha256(b"jpeg-bytes").hexdigest()
    assert read_bytes(store, "titles/ab/kf/0001.jpg") == b"jpeg-bytes"
    assert store.stat("titles/ab/kf/0001.jpg").size == 10
    assert store.stat("titles/ab/kf/none.jpg") is None
    put_bytes(store, "titles/ab/kf/0002.jpg", b"x")
    put_bytes(store, "other/file", b"y")
    assert [o.key for o in store.list("titles/")] == [
        "titles/ab/kf/0001.jpg",
        "titles/ab/kf/0002.jpg",
    ]
    store.delete("titles/ab/kf/0001.jpg")
    with pytest.raises(ObjectNotFound):
        store.open("titles/ab/kf/0001.jpg")


def test_streams_and_hashes_large_objects(store: ObjectStore, tmp_path: Path) -> None:
    size = 40 * 1024 * 1024 + 123  # several S3 multipart parts
    src = ChunkedSource(size)
    info = store.put_stream("big/title.mp4", src)  # type: ignore[arg-type]
    assert info.size == size and info.sha256 == src.digest.hexdigest()
    assert src.max_read <= 32 * 1024 * 1024
    got = download(store, "big/title.mp4", tmp_path / "dl" / "title.mp4")
    assert got.sha256 == src.digest.hexdigest()
    assert (tmp_path / "dl" / "title.mp4").stat().st_size == size


def test_materialize_gives_a_local_file(store: ObjectStore, tmp_path: Path) -> None:
    put_bytes(store, "in/clip.mp4", b"media")
    with materialize(store, "in/clip.mp4", tmp_path / "work") as path:
        assert path.read_bytes() == b"media"
    with pytest.raises(ObjectNotFound), materialize(store, "in/missing.mp4", tmp_path / "w"):
        pass


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../etc/passwd",
        "a/../../b",
        "/abs/path",
        "a/./b",
        "bad\x00key",
        "tab\tkey",
        "a//b",
        "back\\slash",
        "k" * 1025,
    ],
)
def test_unsafe_keys_are_rejected_with_a_reason(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidObjectKey) as err:
        put_bytes(store, key, b"x")
    assert str(err.value)


@pytest.mark.parametrize("key", ["uploads/My Film (2024) – final.mp4", "ü/ñ/文件.mkv", "a-b_c.d"])
def test_odd_but_safe_keys_round_trip(store: ObjectStore, key: str) -> None:
    assert validate_key(key) == key
    put_bytes(store, key, b"ok")
    assert read_bytes(store, key) == b"ok"
    assert [o.key for o in store.list()] == [key]
