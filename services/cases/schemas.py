"""Request bodies of the cases service's HTTP API (API.md "Cases", "Staff (lab) API").

Every body forbids unknown fields (422 naming them); texts are stripped, and one that is empty once stripped counts
as missing. The answers are built by ``services.cases.views``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from shared.events.cases import CasePackage
from shared.events.documents import RECORD_SLOTS

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(text: str) -> str:
    if CONTROL.search(text):
        raise ValueError("must not contain control characters (tabs and line breaks are fine)")
    return text


def plain_text(max_length: int, min_length: int = 1) -> Any:
    """A text field: stripped, ``min_length`` to ``max_length`` characters, no control characters but tabs and line
    breaks (a NUL is stored differently by each database, or not at all)."""
    limits = StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)
    return Annotated[str, limits, AfterValidator(_plain)]


def _link_password(password: str) -> str:
    if not all(" " <= char <= "~" for char in password):
        raise ValueError("use letters, digits, spaces and punctuation without accents")
    return password


Reason = plain_text(2000)
RecordSlot = Literal[RECORD_SLOTS]  # type: ignore[valid-type]
MAX_STEPS = 200
"""The most aligner steps one arch of a setup may have."""


class Input(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class ReasonIn(Input):
    """``{reason}``: why (hold, cancel, reject); required."""

    reason: Reason


class ResumeIn(Input):
    """``{reason?}``: why the case goes on (optional)."""

    reason: Reason | None = None


class ApproveIn(Input):
    """``{package}``: the case package chosen with the approval (DOMAIN.md "case package")."""

    package: CasePackage


class AnswerIn(Input):
    """``{answer}``: the doctor's answer to the lab's records problem."""

    answer: Reason


class LabelAssign(Input):
    """``{label_id}``: one colour of the doctor's palette."""

    label_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]


class CommentIn(Input):
    """``{text}``: the doctor's comment on the case, 2,000 characters at most; empty clears it."""

    text: plain_text(2000, min_length=0)  # type: ignore[valid-type]


class LabelEdit(Input):
    """One colour of the palette renamed: ``{id, name, color?}`` (the colour itself cannot change)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    name: plain_text(50)  # type: ignore[valid-type]
    color: str | None = None


LinkPassword = Annotated[str, StringConstraints(min_length=6, max_length=128), AfterValidator(_link_password)]
"""A patient link's password: 6 to 128 letters, digits, spaces or punctuation without accents (it travels in an HTTP
header, where only those are safe, and a patient types it from a note)."""


class PatientLinkIn(Input):
    """``{password?, expires_in_days?}``: a new patient link, protected by a password when given."""

    password: LinkPassword | None = None
    expires_in_days: Annotated[StrictInt, Field(ge=1)] | None = None


class SetupIn(Input):
    """A treatment setup the lab publishes: the technician's comment for the doctor, the number of aligner steps per
    arch (0 for an arch not treated; at least one arch has steps), and the setup's viewer file when stored."""

    technician_comment: plain_text(5000)  # type: ignore[valid-type]
    steps_upper: Annotated[StrictInt, Field(ge=0, le=MAX_STEPS)]
    steps_lower: Annotated[StrictInt, Field(ge=0, le=MAX_STEPS)]
    document_id: Annotated[str, StringConstraints(min_length=1, max_length=36)] | None = None


class RecordsProblemIn(Input):
    """Quality control's problem with the records: ``{reason, slots?}`` (the record slots to send again)."""

    reason: Reason
    slots: list[RecordSlot] = Field(default_factory=list)


class PhaseIn(Input):
    """A phase to make: ``{number, steps_from, steps_to}`` (aligner steps, inclusive)."""

    number: Annotated[StrictInt, Field(ge=1)]
    steps_from: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)]
    steps_to: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)]


class ShipIn(Input):
    """``{carrier, tracking_number}`` of a shipped phase."""

    carrier: plain_text(100)  # type: ignore[valid-type]
    tracking_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 ._/-]+$")
    ]


class DeliverIn(Input):
    """``{final}``: true when the delivered phase is the case's last one."""

    final: StrictBool = False
