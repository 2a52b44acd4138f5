"""Optional image embedding (``--embed-images``): copy referenced image bytes into the record.

By default the build references images by path/URL and never opens them: it is a
text pipeline. Embedding makes shards self-contained (the trainer needs no access
to the original image folder, and the Hub copy is complete). The bytes are copied
as they are; only the header is read, to record width and height.
"""

from __future__ import annotations

import dataclasses
import io
import tarfile

from apache_beam.io.filesystems import FileSystems

from negforge.schemas import CaptionRecord


class ImageError(ValueError):
    """An image reference that cannot be embedded; the message names the reference."""


def _read_reference(uri: str) -> bytes:
    if uri.startswith(("http://", "https://")):
        raise ImageError(f"cannot fetch {uri!r}: download images first or build without --embed-images")
    path, sep, member = uri.partition("#")
    if sep and path.endswith(".tar"):  # WebDataset member reference "shard.tar#key.jpg"
        with FileSystems.open(path) as f, tarfile.open(fileobj=f, mode="r|*") as tar:
            for info in tar:
                if info.name == member and info.isfile():
                    return tar.extractfile(info).read()
        raise ImageError(f"member {member!r} not found in {path!r}")
    if not FileSystems.exists(uri):
        raise ImageError(f"image file {uri!r} does not exist")
    with FileSystems.open(uri) as f:
        return f.read()


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone; raises ImageError on undecodable bytes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"not a readable image: {exc}") from exc


def embed_image(record: CaptionRecord) -> CaptionRecord:
    """The record with ``image.bytes``, ``width`` and ``height`` filled in (no-op without an image)."""
    image = record.image
    if image is None:
        return record
    data = image.bytes if image.bytes else _read_reference(image.uri or "")
    width, height = image_size(data)
    return dataclasses.replace(record, image=dataclasses.replace(image, bytes=data, width=width, height=height))
