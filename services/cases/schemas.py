"""Request bodies of the cases service's HTTP API (API.md "Cases", "Staff (lab) API").

Every body forbids unknown fields (422 naming them); texts are stripped, and one that is empty once stripped counts
as missing. The answers are built by ``services.cases.views``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from shared.events.cases import CasePackage
from shared.events.documents import RECORD_SLOTS

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
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

    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class LabelEdit(Input):
    """One colour of the palette renamed: ``{id, name, color?}`` (the colour itself cannot change)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    color: str | None = None


class PatientLinkIn(Input):
    """``{password?, expires_in_days?}``: a new patient link, protected by a password when given."""

    password: Annotated[str, StringConstraints(min_length=6, max_length=128)] | None = None
    expires_in_days: Annotated[StrictInt, Field(ge=1)] | None = None


class SetupIn(Input):
    """A treatment setup the lab publishes: the technician's comment for the doctor, the number of aligner steps per
    arch (0 for an arch not treated; at least one arch has steps), and the setup's viewer file when stored."""

    technician_comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
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

    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    tracking_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 ._/-]+$")
    ]


class DeliverIn(Input):
    """``{final}``: true when the delivered phase is the case's last one."""

    final: StrictBool = False
