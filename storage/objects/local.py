"""Local-directory object store (the embedded default)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.objects.base import CHUNK, HashingReader, ObjectInfo, ObjectNotFound
from storage.objects.keys import validate_key


class LocalObjectStore:
    def __init__(self, root: Path, name: str = "local") -> None:
        self.root = root.resolve()
        self.name = name
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        # validate_key already rejects '..'; this guards symlinks pointing outside the root.
        if self.root not in path.parents:
            raise ObjectNotFound(key)
        return path

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def put_stream(
        self, key: str, stream: BinaryIO, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=dest.parent)
        reader = HashingReader(stream)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
            os.replace(tmp, dest)  # readers never see a half-written object
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ObjectInfo(
            key=key, size=reader.size, sha256=reader.hexdigest(), content_type=content_type
        )

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path.open("rb")

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key=key, size=path.stat().st_size)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.name.startswith(".upload-"):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield ObjectInfo(key=key, size=path.stat().st_size)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
