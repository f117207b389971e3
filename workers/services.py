"""Builds the shared services (database URL, object stores) from :class:`Settings`."""

from __future__ import annotations

from urllib.parse import quote, unquote

from storage.objects import LocalObjectStore, ObjectStore, S3ObjectStore, validate_key
from storage.objects.keys import InvalidObjectKey
from workers.settings import Settings

LOCAL_SCHEME = "local://"
S3_SCHEME = "s3://"


def store_for_bucket(settings: Settings, bucket: str, *, create_bucket: bool = True) -> ObjectStore:
    """The store holding ``bucket``: a sub-directory locally, a real bucket on S3."""
    if settings.object_store == "s3":
        return s3_store(settings, bucket, create_bucket=create_bucket)
    return LocalObjectStore(settings.effective_store_dir / bucket, name=f"local:{bucket}")


def s3_store(settings: Settings, bucket: str, *, create_bucket: bool = True) -> S3ObjectStore:
    """An S3 store even in embedded mode (``coldstart ingest s3://...``)."""
    return S3ObjectStore.connect(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        bucket,
        secure=settings.s3_secure,
        region=settings.s3_region,
        connect_timeout_s=settings.s3_connect_timeout_s,
        read_timeout_s=settings.s3_read_timeout_s,
        retries=settings.s3_client_retries,
        create_bucket=create_bucket,
    )


def incoming_store(settings: Settings) -> ObjectStore:
    return store_for_bucket(settings, settings.incoming_bucket)


def derived_store(settings: Settings, *, create_bucket: bool = True) -> ObjectStore:
    """``create_bucket=False`` for readers (the admin view): no S3 call until a read."""
    return store_for_bucket(settings, settings.derived_bucket, create_bucket=create_bucket)


def object_uri(settings: Settings, bucket: str, key: str) -> str:
    validate_key(key)
    scheme = S3_SCHEME if settings.object_store == "s3" else LOCAL_SCHEME
    return f"{scheme}{bucket}/{quote(key, safe='/')}"


def parse_object_uri(uri: str) -> tuple[str, str, str]:
    """``s3://bucket/key`` or ``local://bucket/key`` into (scheme, bucket, key)."""
    for scheme in (S3_SCHEME, LOCAL_SCHEME):
        if uri.startswith(scheme):
            bucket, _, key = uri[len(scheme) :].partition("/")
            key = unquote(key)
            if not bucket or not key:
                raise InvalidObjectKey(f"object URI needs a bucket and a key: {uri!r}")
            return scheme, bucket, validate_key(key)
    raise InvalidObjectKey(f"not an object URI: {uri!r}")


def store_for_uri(
    settings: Settings, uri: str, *, create_bucket: bool = True
) -> tuple[ObjectStore, str]:
    """The store and key of an object URI; ``create_bucket=False`` makes no S3 call."""
    scheme, bucket, key = parse_object_uri(uri)
    if scheme == S3_SCHEME:
        return s3_store(settings, bucket, create_bucket=create_bucket), key
    return LocalObjectStore(settings.effective_store_dir / bucket, name=f"local:{bucket}"), key
