"""Phone numbers must hold digits (no I/O)."""

import pytest
from pydantic import TypeAdapter, ValidationError

from services.gateway.schemas import PhoneNumber

NUMBERS = TypeAdapter(PhoneNumber)


@pytest.mark.parametrize("number", ["+33 4 72 00 00 00", "(555) 123-4567", "04.72.00.00.00", "+442071234567"])
def test_numbers_as_people_write_them(number: str) -> None:
    assert NUMBERS.validate_python(number) == number


@pytest.mark.parametrize("number", ["------", "(((((((", "12345", "+33 abc", "1" * 21])
def test_punctuation_alone_too_few_or_too_many_digits_are_refused(number: str) -> None:
    with pytest.raises(ValidationError):
        NUMBERS.validate_python(number)
