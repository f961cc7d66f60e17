"""The S3-compatible backend (AWS S3, MinIO, R2, GCS's S3 API) through boto3.

boto3 does the protocol: signing, multipart uploads for large streams (aborted when the stream
fails, so an interrupted upload leaves no object), retries. Timeouts are short so a store that
is down answers `/health` and fails a job within seconds instead of hanging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from foredeck.blobs.store import CHUNK, BlobMissing, BlobStoreError, check_key

if TYPE_CHECKING:
    from foredeck.config import Config

MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
REFUSED_CODES = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
}


def describe(exc: BaseException) -> str:
    """A short verdict for health and job errors, never the credentials."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in REFUSED_CODES:
            return "credentials_refused"
        if code in ("NoSuchBucket", "404"):
            return "no_bucket"
        return f"error ({code or 'unknown'})"
    if isinstance(exc, EndpointConnectionError):
        return "unreachable"
    if isinstance(exc, BotoCoreError):
        name = type(exc).__name__
        if "Timeout" in name:
            return "timeout"
        if "Credentials" in name:
            return "no_credentials"
        return "unreachable"
    return "unreachable"


class S3BlobStore:
    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        client: Any,
        presign_seconds: int = 0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.presign_seconds = presign_seconds
        self.transfer = TransferConfig(multipart_chunksize=8 * CHUNK, use_threads=True)

    @classmethod
    def from_config(cls, config: Config) -> S3BlobStore:
        if not config.s3_bucket:
            raise ValueError("FOREDECK_BLOB_STORE=s3 needs FOREDECK_S3_BUCKET")
        kwargs: dict[str, Any] = {}
        if config.s3_access_key_id:
            if config.s3_secret_access_key_file is None:
                raise ValueError(
                    "FOREDECK_S3_ACCESS_KEY_ID needs FOREDECK_S3_SECRET_ACCESS_KEY_FILE"
                )
            secret = Path(config.s3_secret_access_key_file).read_text().strip()
            kwargs = {"aws_access_key_id": config.s3_access_key_id, "aws_secret_access_key": secret}
        # Otherwise boto3's own chain: AWS_* variables, ~/.aws files, instance roles.
        session = boto3.session.Session(**kwargs)
        client = session.client(
            "s3",
            endpoint_url=config.s3_endpoint_url,
            region_name=config.s3_region,
            config=BotoConfig(
                connect_timeout=config.s3_connect_timeout_s,
                read_timeout=config.s3_read_timeout_s,
                retries={"total_max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": config.s3_addressing_style},
            ),
        )
        return cls(
            bucket=config.s3_bucket,
            prefix=config.s3_prefix,
            client=client,
            presign_seconds=config.s3_presign_seconds,
        )

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, exc: BaseException, key: str) -> BaseException:
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in MISSING_CODES:
                return BlobMissing(key)
        return BlobStoreError(f"The object store cannot be used: {describe(exc)}")

    def put(self, key: str, stream: IO[bytes]) -> int:
        counted = _Counting(stream)
        try:
            self.client.upload_fileobj(counted, self.bucket, self._key(key), Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            # s3transfer wraps the stream's own error; raise that one so a cut-off client
            # reads as what it is, not as a store fault.
            if counted.error is not None:
                raise counted.error from exc
            raise self._fail(exc, key) from exc
        return counted.count

    def put_file(self, key: str, path: Path) -> int:
        with open(path, "rb") as src:
            return self.put(key, src)

    def open(self, key: str) -> IO[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, key) from exc
        return body  # type: ignore[no-any-return]

    def iter_chunks(self, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        body = self.open(key)
        try:
            while data := body.read(chunk):
                yield data
        finally:
            body.close()

    def fetch(self, key: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            self.client.download_file(
                self.bucket, self._key(key), str(partial), Config=self.transfer
            )
        except (BotoCoreError, ClientError) as exc:
            partial.unlink(missing_ok=True)
            raise self._fail(exc, key) from exc
        partial.replace(target)
        return target

    def size(self, key: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            failure = self._fail(exc, key)
            if isinstance(failure, BlobMissing):
                return None
            raise failure from exc
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            failure = self._fail(exc, key)
            if not isinstance(failure, BlobMissing):
                raise failure from exc

    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix) + "/"
            )
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
                    removed += len(keys)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, prefix) from exc
        return removed

    def list_keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix) + "/"
            )
            for page in pages:
                found += [item["Key"][strip:] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, prefix) from exc
        return sorted(found)

    def local_path(self, key: str) -> Path | None:
        return None

    def presigned_url(self, key: str, *, filename: str, media_type: str) -> str | None:
        if self.presign_seconds <= 0:
            return None
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(key),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": media_type,
            },
            ExpiresIn=self.presign_seconds,
        )
        return url

    def check(self) -> str:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            return describe(exc)
        return "connected"


class _Counting:
    """A read-only stream that counts its bytes and keeps the error its source raised."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.count = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.source.read(size)
        except BaseException as exc:
            self.error = exc
            raise
        self.count += len(data)
        return data
