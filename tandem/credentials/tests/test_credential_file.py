"""Adding credentials, their documents, and recording verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tandem.audit.models import AuditEvent
from tandem.credentials.documents import MAX_BYTES
from tandem.credentials.models import DeaRegistration, StateLicense
from tandem.test import Cast, sign_in

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def add_url(cast: Cast, kind: str = "licence") -> str:
    return f"/credentials/clinicians/{cast.prescriber.public_id}/add/{kind}/"


def licence_form(**extra: object) -> dict[str, object]:
    return {
        "state": "WA",
        "license_type": "MD",
        "number": "MD60871234",
        "status": "active",
        "issued_on": "2019-07-01",
        "expires_on": "2027-12-31",
        **extra,
    }


@pytest.mark.django_db
def test_a_group_admin_adds_a_licence_with_its_scan(cast: Cast, private_files: Path) -> None:
    client = sign_in(Client(), cast.group_admin)
    response = client.post(add_url(cast), licence_form(document=SimpleUploadedFile("licence.pdf", PDF)))
    assert response.status_code == 302
    licence = StateLicense.objects.get(number="MD60871234")
    assert licence.clinician == cast.prescriber
    assert licence.document_type == "application/pdf"
    stored = private_files / licence.document.name
    assert stored.read_bytes() == PDF
    assert "licence" not in licence.document.name  # the upload's own name is not kept
    assert AuditEvent.objects.filter(target_type="StateLicense", target_id=str(licence.public_id)).count() == 1
    url = f"/credentials/clinicians/{cast.prescriber.public_id}/licence/{licence.public_id}/document"
    for who, status in (
        (cast.prescriber, 200),
        (cast.group_admin, 200),
        (cast.therapist, 404),
        (cast.unrelated, 404),
        (cast.outsider, 404),
        (cast.admin, 404),
    ):
        response = sign_in(Client(), who).get(url)
        assert response.status_code == status, who
        if status == 200:
            assert b"".join(response.streaming_content) == PDF
            assert response["Content-Type"] == "application/pdf"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("licence.pdf", b"MZ\x90\x00 not a pdf at all", "Upload a PDF, PNG or JPEG"),
        ("scan.png", b"<script>alert(1)</script>", "Upload a PDF, PNG or JPEG"),
        ("empty.pdf", b"", "empty"),
        ("huge.pdf", b"%PDF-" + b"0" * MAX_BYTES, "10 MB or smaller"),
    ],
)
def test_documents_are_checked_by_content(cast: Cast, name: str, content: bytes, message: str) -> None:
    client = sign_in(Client(), cast.group_admin)
    response = client.post(add_url(cast), licence_form(document=SimpleUploadedFile(name, content)))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not StateLicense.objects.filter(number="MD60871234").exists()


@pytest.mark.django_db
def test_a_png_is_accepted(cast: Cast) -> None:
    client = sign_in(Client(), cast.group_admin)
    assert client.post(add_url(cast), licence_form(document=SimpleUploadedFile("x.bin", PNG))).status_code == 302
    assert StateLicense.objects.get(number="MD60871234").document_type == "image/png"


@pytest.mark.django_db
def test_a_dea_registration_records_its_schedules(cast: Cast) -> None:
    client = sign_in(Client(), cast.group_admin)
    response = client.post(
        add_url(cast, "dea"),
        {
            "state": "WA",
            "number": "FR1234563",
            "schedules": ["II", "IV"],
            "status": "active",
            "expires_on": "2028-01-31",
        },
    )
    assert response.status_code == 302
    assert DeaRegistration.objects.get(state="WA").schedules == ["II", "IV"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        licence_form(state="ZZ"),
        licence_form(number="<b>x</b>"),
        licence_form(number="9" * 500),
        licence_form(expires_on="2010-01-01"),  # before it was issued
        licence_form(license_type="WIZARD"),
    ],
)
def test_bad_credential_input_writes_nothing(cast: Cast, data: dict[str, object]) -> None:
    response = sign_in(Client(), cast.group_admin).post(add_url(cast), data)
    assert response.status_code == 400
    assert StateLicense.objects.count() == 0


@pytest.mark.django_db
def test_verification_records_who_when_and_against_what(cast: Cast) -> None:
    licence = StateLicense.objects.create(clinician=cast.prescriber, state="OR", license_type="MD", number="MD-9")
    url = f"/credentials/clinicians/{cast.prescriber.public_id}/licence/{licence.public_id}/verify/"
    assert sign_in(Client(), cast.prescriber).post(url, {"source": "self"}).status_code == 404
    response = sign_in(Client(), cast.group_admin).post(url, {"source": "Oregon Medical Board lookup"})
    assert response.status_code == 302
    licence.refresh_from_db()
    assert licence.verified_by == cast.group_admin
    assert licence.verified_at is not None
    assert licence.verification_source == "Oregon Medical Board lookup"
    page = sign_in(Client(), cast.prescriber).get(f"/credentials/clinicians/{cast.prescriber.public_id}/")
    assert "against Oregon Medical Board lookup by Morgan Reyes" in page.content.decode()


@pytest.mark.django_db
def test_a_credential_of_someone_else_is_not_found(cast: Cast) -> None:
    other = StateLicense.objects.create(clinician=cast.unrelated, state="OR", license_type="MD", number="MD-2")
    url = f"/credentials/clinicians/{cast.prescriber.public_id}/licence/{other.public_id}/verify/"
    assert sign_in(Client(), cast.group_admin).post(url, {"source": "x"}).status_code == 404
    other.refresh_from_db()
    assert other.verified_at is None
