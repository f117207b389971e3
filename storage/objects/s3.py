"""S3 object store on the ``minio`` client: MinIO, AWS S3, or any S3 protocol server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

import certifi
import urllib3
from minio import Minio
from minio.error import S3Error

from storage.objects.base import HashingReader, ObjectInfo, ObjectNotFound
from storage.objects.keys import validate_key

PART_SIZE = 16 * 1024 * 1024  # multipart upload part; bounds memory per upload

# minio's own defaults wait 5 minutes to connect and to read, and retry 5 times: a
# black-holed endpoint held a request for up to half an hour, long enough for a stage to hit
# its time limit (a permanent failure) and for the admin view's threads to run out. These
# fail fast as a transient error instead; the workers' own retries (with backoff) take over.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
CLIENT_RETRIES = 2


def http_client(
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
    retries: int = CLIENT_RETRIES,
) -> urllib3.PoolManager:
    """minio's connection pool, with bounded timeouts and retries."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=urllib3.Retry(
            total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    )


class S3ObjectStore:
    def __init__(self, client: Minio, bucket: str, *, create_bucket: bool = True) -> None:
        self.client = client
        self.bucket = bucket
        self.name = f"s3://{bucket}"
        if create_bucket and not client.bucket_exists(bucket):
            try:
                client.make_bucket(bucket)
            except S3Error as err:  # created meanwhile by another worker
                if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    @classmethod
    def connect(
        cls,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        retries: int = CLIENT_RETRIES,
        create_bucket: bool = True,
    ) -> S3ObjectStore:
        client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http_client(
                connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s, retries=retries
            ),
        )
        return cls(client, bucket, create_bucket=create_bucket)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{validate_key(key)}"

    def put_stream(
        self, key: str, stream: BinaryIO, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        reader = HashingReader(stream)
        result = self.client.put_object(
            self.bucket,
            validate_key(key),
            cast(BinaryIO, reader),
            length=-1,
            part_size=PART_SIZE,
            content_type=content_type,
        )
        return ObjectInfo(
            key=key,
            size=reader.size,
            sha256=reader.hexdigest(),
            etag=result.etag,
            content_type=content_type,
        )

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(self.bucket, validate_key(key))
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchBucket"):
                raise ObjectNotFound(key) from err
            raise
        return cast(BinaryIO, _ClosingResponse(response))

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self.client.stat_object(self.bucket, validate_key(key))
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchBucket", "NotFound"):
                return None
            raise
        return ObjectInfo(key=key, size=st.size or 0, etag=st.etag, content_type=st.content_type)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for obj in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
            if obj.object_name and not obj.is_dir:
                yield ObjectInfo(key=obj.object_name, size=obj.size or 0, etag=obj.etag)

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, validate_key(key))

    def local_path(self, key: str) -> Path | None:
        return None


class _ClosingResponse:
    """urllib3 response as a context-managed binary stream that releases its connection."""

    def __init__(self, response) -> None:  # type: ignore[no-untyped-def]
        self._response = response

    def read(self, n: int = -1) -> bytes:
        return self._response.read(None if n is None or n < 0 else n)

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()

    def __enter__(self) -> _ClosingResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
