"""PDFs, drawn by WeasyPrint from Django templates, with no network access:
every resource a PDF needs is inline."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError("PDFs load nothing from outside")


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # imported here: it loads Pango, which only PDF work needs

    # PDFs say their times are UTC, whoever asks for them.
    with timezone.override(datetime.UTC):
        html = render_to_string(template_name, context)
    return bytes(HTML(string=html, url_fetcher=_refuse_fetch).write_pdf())


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """A PDF download that no cache keeps."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
