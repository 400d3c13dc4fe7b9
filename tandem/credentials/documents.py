"""Checking an uploaded credential document by what it is, not what it is called."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_BYTES = 10 * 1024 * 1024
# Leading bytes of the formats a licence scan or certificate comes in.
SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
]


def sniff(upload: UploadedFile) -> str:
    """The document's real type, or a ValidationError that says what is accepted."""
    if upload.size is None or upload.size > MAX_BYTES:
        raise ValidationError("The document must be 10 MB or smaller.")
    if upload.size == 0:
        raise ValidationError("The document is empty.")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    raise ValidationError("Upload a PDF, PNG or JPEG: this file is none of those, whatever its name says.")
