"""A patient's date of birth is a calendar date written YYYY-MM-DD, nothing that merely converts to one (no I/O)."""

import pytest
from pydantic import ValidationError

from services.orders.schemas import PatientIn


@pytest.mark.parametrize("written", ["0", '"1262304000"', '"2010-05-04T00:00:00"', '"04/05/2010"', "true"])
def test_numbers_timestamps_and_other_formats_are_refused(written: str) -> None:
    body = '{"first_name": "Zoë", "last_name": "Martin", "sex": "female", "date_of_birth": ' + written + "}"
    with pytest.raises(ValidationError, match="must be a date written YYYY-MM-DD"):
        PatientIn.model_validate_json(body)


def test_a_calendar_date_is_taken() -> None:
    body = '{"first_name": "Zoë", "last_name": "Martin", "sex": "female", "date_of_birth": "2010-05-04"}'
    assert str(PatientIn.model_validate_json(body).date_of_birth) == "2010-05-04"
