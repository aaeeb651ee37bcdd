"""FDI tooth numbers (ISO 3950), without I/O."""

from __future__ import annotations

import pytest

from services.orders.fdi import PERMANENT_TEETH, PRIMARY_TEETH, teeth_of, tooth_problem


def test_the_permanent_and_primary_sets() -> None:
    assert len(PERMANENT_TEETH) == 32 and len(PRIMARY_TEETH) == 20
    assert sorted(PERMANENT_TEETH)[:8] == list(range(11, 19))
    assert {21, 28, 31, 38, 41, 48} <= PERMANENT_TEETH
    assert {51, 55, 61, 65, 71, 75, 81, 85} <= PRIMARY_TEETH
    assert not PERMANENT_TEETH & PRIMARY_TEETH
    assert teeth_of("permanent") == teeth_of(None) == teeth_of("unknown") == PERMANENT_TEETH
    assert teeth_of("mixed") == PERMANENT_TEETH | PRIMARY_TEETH


@pytest.mark.parametrize("tooth", [11, 18, 21, 28, 31, 38, 41, 48, 36])
def test_permanent_teeth_are_teeth_in_every_dentition(tooth: int) -> None:
    assert tooth_problem(tooth, "permanent") is None
    assert tooth_problem(tooth, "mixed") is None


@pytest.mark.parametrize("number", [0, 9, 10, 19, 20, 29, 30, 39, 40, 49, 50, 56, 60, 66, 76, 86, 88, 91, 111, -11])
def test_numbers_that_are_no_tooth(number: int) -> None:
    for dentition in ("permanent", "mixed"):
        message = tooth_problem(number, dentition)
        assert message is not None and f"{number} is not a tooth in FDI notation" in message


@pytest.mark.parametrize("tooth", [51, 55, 61, 65, 71, 75, 81, 85])
def test_primary_teeth_need_a_mixed_dentition(tooth: int) -> None:
    assert tooth_problem(tooth, "mixed") is None
    message = tooth_problem(tooth, "permanent")
    assert message is not None and "primary tooth" in message and "mixed" in message
    assert tooth_problem(tooth, None) is not None


@pytest.mark.parametrize("value", [True, "14", 14.0, None, [14]])
def test_only_integers_are_tooth_numbers(value: object) -> None:
    assert tooth_problem(value, "mixed") == "must be a tooth number in FDI notation (ISO 3950), e.g. 14"
