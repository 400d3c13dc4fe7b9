import pytest
from django.core.exceptions import ValidationError

from tandem.credentials.models import validate_npi


@pytest.mark.parametrize("npi", ["1234567893", "1503987657", "1928374655"])
def test_valid_npis_pass_the_check_digit(npi: str) -> None:
    validate_npi(npi)


@pytest.mark.parametrize(
    ("npi", "message"),
    [
        ("1234567890", "check digit"),
        ("1234567894", "check digit"),
        ("123456789", "ten digits"),
        ("12345678901", "ten digits"),
        ("12345abcde", "ten digits"),
        ("' OR 1=1--", "ten digits"),
    ],
)
def test_invalid_npis_are_refused_with_a_reason(npi: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_npi(npi)


@pytest.mark.django_db
def test_the_profile_form_checks_the_npi(cast) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    from tandem.credentials.models import ClinicianProfile
    from tandem.test import sign_in

    client = sign_in(Client(), cast.group_admin)
    url = f"/credentials/clinicians/{cast.prescriber.public_id}/profile/"
    bad = client.post(url, {"discipline": "psychiatrist", "npi": "1234567890"})
    assert bad.status_code == 400
    assert "check digit" in bad.content.decode()
    assert not ClinicianProfile.objects.filter(user=cast.prescriber).exists()
    assert client.post(url, {"discipline": "psychiatrist", "npi": "1234567893"}).status_code == 302
    assert ClinicianProfile.objects.get(user=cast.prescriber).npi == "1234567893"
