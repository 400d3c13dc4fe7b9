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
