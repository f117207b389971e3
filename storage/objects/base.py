"""The object store interface. Implementations stream and hash; none reads a whole object."""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None = None  # known when we computed it while streaming
    etag: str | None = None
    content_type: str | None = None


class ObjectNotFound(KeyError):
    """The key does not exist in the store."""


class ObjectStore(Protocol):
    """One bucket (S3) or one directory (local). Keys are validated by every method."""

    name: str

    def uri(self, key: str) -> str: ...

    def put_stream(
        self, key: str, stream: BinaryIO, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo: ...

    def open(self, key: str) -> BinaryIO: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to the object when the store has one (local store), else None."""
        ...


class HashingReader:
    """Wraps a stream, hashing and counting the bytes as they are read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self.sha256.hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """Hash a file in chunks; returns (hex digest, size)."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def put_file(
    store: ObjectStore, key: str, path: Path, content_type: str = "application/octet-stream"
) -> ObjectInfo:
    with path.open("rb") as f:
        return store.put_stream(key, f, content_type=content_type)


def put_bytes(
    store: ObjectStore, key: str, data: bytes, content_type: str = "application/octet-stream"
) -> ObjectInfo:

    return store.put_stream(key, io.BytesIO(data), content_type=content_type)


def read_bytes(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def download(store: ObjectStore, key: str, dest: Path) -> ObjectInfo:
    """Stream an object to ``dest`` (atomically), hashing on the way."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with store.open(key) as src, tmp.open("wb") as out:
        reader = HashingReader(src)
        while chunk := reader.read(CHUNK):
            out.write(chunk)
    tmp.replace(dest)
    return ObjectInfo(key=key, size=reader.size, sha256=reader.hexdigest())


@contextmanager
def materialize(store: ObjectStore, key: str, work_dir: Path) -> Iterator[Path]:
    """A local file with the object's content for tools such as ffmpeg; temporary if copied."""
    path = store.local_path(key)
    if path is not None:
        if not path.is_file():
            raise ObjectNotFound(key)
        yield path
        return
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix="obj-", dir=work_dir))
    try:
        dest = tmp_dir / Path(key).name
        download(store, key, dest)
        yield dest
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
