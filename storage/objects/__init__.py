"""Object stores: one interface (:class:`ObjectStore`), local directory and S3 implementations."""

from storage.objects.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    download,
    materialize,
    put_bytes,
    put_file,
    read_bytes,
    sha256_file,
)
from storage.objects.keys import InvalidObjectKey, safe_name, validate_key
from storage.objects.local import LocalObjectStore
from storage.objects.s3 import S3ObjectStore

__all__ = [
    "InvalidObjectKey",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "download",
    "materialize",
    "put_bytes",
    "put_file",
    "read_bytes",
    "safe_name",
    "sha256_file",
    "validate_key",
]
