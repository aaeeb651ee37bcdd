"""Request and response bodies of the gateway's identity and account API (API.md, "Identity and account").

Every request body forbids unknown fields, so a body can never set a role, an owner or an id (mass assignment):
such a field is answered with 422 naming it.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
)

from services.gateway.security import password_problems
from shared.events.notifications import NOTIFICATION_KINDS

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Language = Literal["en", "fr"]


def _known_time_zone(name: str) -> str:
    if name not in zoneinfo.available_timezones():
        raise ValueError("must be an IANA time zone name such as Europe/Paris or UTC")
    return name


TimeZone = Annotated[str, AfterValidator(_known_time_zone)]
"""An IANA time zone name (``Europe/Paris``, ``America/New_York``, ``UTC``) of the tz database."""
WearSchedule = Literal[7, 10, 14, 21]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,50}$")]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?(?:[ ().-]*[0-9]){6,20}[ ().-]*$", max_length=40)]
"""A phone number as people write it: an optional ``+``, then 6 to 20 digits among spaces, dots, dashes, brackets."""


T = TypeVar("T")

COLLABORATOR_PERMISSIONS: tuple[str, ...] = ("view", "comment", "evaluate_setups")


class Input(BaseModel):
    """Base of every request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Address(Input):
    """A postal address; ``country`` is an ISO 3166-1 alpha-2 code."""

    line1: Text
    line2: Text | None = None
    city: ShortText
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    region: ShortText | None = None
    country: CountryCode


class PracticeIn(Input):
    """A practice: name, address (also the ship-to address), phone."""

    name: Text
    address: Address
    phone: PhoneNumber | None = None


class PracticePatch(Input):
    """Fields of a practice to change."""

    name: Text | None = None
    address: Address | None = None
    phone: PhoneNumber | None = None


class PracticeOut(BaseModel):
    """A practice as the API shows it."""

    id: str
    name: str
    address: Address
    phone: str | None
    created_at: datetime


class NewAccount(Input):
    """E-mail, name and a password strong enough (checked against the e-mail and the name)."""

    email: EmailStr
    first_name: ShortText
    last_name: ShortText
    password: Annotated[str, StringConstraints(max_length=1000)]

    @field_validator("password")
    @classmethod
    def _strong(cls, password: str, info: ValidationInfo) -> str:
        names = tuple(info.data.get(field, "") for field in ("first_name", "last_name"))
        problems = password_problems(password, email=info.data.get("email", ""), names=names)
        if problems:
            raise ValueError("password " + "; ".join(problems))
        return password


class RegisterRequest(NewAccount):
    """A new doctor with a first practice."""

    degree: ShortText | None = None
    specialty: ShortText | None = None
    country: CountryCode
    language: Language = "en"
    time_zone: TimeZone = "UTC"
    practice: PracticeIn


class LoginRequest(Input):
    """Credentials."""

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class TokenResponse(BaseModel):
    """A session: its bearer token, lifetime in seconds, and the CSRF token for cookie-authenticated requests."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    csrf_token: str


class AccountOut(BaseModel):
    """The signed-in person's own account."""

    id: str
    email: str
    role: str
    first_name: str
    last_name: str
    degree: str | None
    specialty: str | None
    username: str | None
    country: str | None
    language: str
    wear_schedule_days: int
    time_zone: str
    created_at: datetime


class AccountPatch(Input):
    """Personal information to change; ``email`` must stay unique. ``degree``, ``specialty`` and ``username`` can
    be cleared with null; the others cannot (null is a 422 naming the field)."""

    email: EmailStr = None  # type: ignore[assignment]  (absent means unchanged; null is refused)
    first_name: ShortText = None  # type: ignore[assignment]
    last_name: ShortText = None  # type: ignore[assignment]
    degree: ShortText | None = None
    specialty: ShortText | None = None
    username: Username | None = None
    wear_schedule_days: WearSchedule = None  # type: ignore[assignment]
    language: Language = None  # type: ignore[assignment]
    time_zone: TimeZone = None  # type: ignore[assignment]


class PasswordChange(Input):
    """The current password and the new one."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    new_password: Annotated[str, StringConstraints(max_length=1000)]


class StaffCreate(NewAccount):
    """A staff account an admin creates."""


class Page(BaseModel, Generic[T]):
    """One page of a list (API.md "Lists")."""

    items: list[T]
    page: int
    page_size: int
    total: int


class PhoneIn(Input):
    """A phone number with a label (``office``, ``mobile``...)."""

    label: ShortText = "office"
    number: PhoneNumber


class PhoneOut(BaseModel):
    """A phone number as the API shows it."""

    id: str
    label: str
    number: str
    created_at: datetime


NotificationSwitches = create_model(
    "NotificationSwitches",
    __base__=Input,
    __module__=__name__,
    __doc__="One e-mail switch per kind of ``NOTIFICATION_KINDS``: every kind must be given, and no other.",
    **{kind: (StrictBool, ...) for kind in NOTIFICATION_KINDS},  # type: ignore[call-overload]
)


class EmailNotifications(Input):
    """The doctor's e-mail switches: one per notification kind (``kinds``) and the daily digest; a PUT replaces
    them all, so it names every kind (a missing or unknown kind is a 422 naming ``kinds.<kind>``)."""

    kinds: NotificationSwitches  # type: ignore[valid-type]
    daily_digest: StrictBool


class ClinicalPreferences(Input):
    """The doctor's clinical defaults for new orders (DOMAIN.md "Aligner order form"); a PUT replaces them all.

    Every field is required but ``max_steps`` (1-100, required with ``duration_mode: "limit"`` and refused with
    ``"recommend"``) and ``instructions`` (the default technician instructions, up to 2000 characters).
    """

    wear_schedule_days: WearSchedule
    ipr_allowed: StrictBool
    attachments_allowed: StrictBool
    arches: Literal["upper", "lower", "both"]
    dentition: Literal["permanent", "mixed"]
    duration_mode: Literal["recommend", "limit"]
    max_steps: Annotated[StrictInt, Field(ge=1, le=100)] | None = Field(default=None, validate_default=True)
    instructions: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

    @field_validator("max_steps")
    @classmethod
    def _steps_go_with_limit(cls, max_steps: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("duration_mode")
        if mode == "limit" and max_steps is None:
            raise ValueError("max_steps is required when duration_mode is 'limit'")
        if mode == "recommend" and max_steps is not None:
            raise ValueError("max_steps goes only with duration_mode 'limit'")
        return max_steps


Scope = Literal["read", "write"]
"""What an API key may do: ``read`` (GET requests), ``write`` (the other methods)."""


class CollaboratorIn(Input):
    """An invitation: a colleague's e-mail and what they may do on the cases shared with them, at least one of
    ``COLLABORATOR_PERMISSIONS`` (a repeated permission counts once)."""

    email: EmailStr
    permissions: list[Literal["view", "comment", "evaluate_setups"]]

    @field_validator("permissions")
    @classmethod
    def _non_empty_subset(cls, permissions: list[str]) -> list[str]:
        if not permissions:
            raise ValueError("give at least one permission among " + ", ".join(COLLABORATOR_PERMISSIONS))
        return [permission for permission in COLLABORATOR_PERMISSIONS if permission in permissions]


class CollaboratorOut(BaseModel):
    """A collaborator as the API shows it; ``registered`` says whether an account with that e-mail exists."""

    id: str
    email: str
    permissions: list[str]
    created_at: datetime
    registered: bool


class AuditEntryOut(BaseModel):
    """One audit-log entry: who (``actor_id``, ``actor_role``), what (``action`` on ``object_type``/``object_id``,
    within ``case_id``), when (``at``), from where (``client_address``) and how it ended (``outcome``)."""

    id: str
    at: datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | None
    case_id: str | None
    client_address: str | None
    outcome: str
    details: dict[str, object]


class ApiKeyCreate(Input):
    """A new API key: a name to recognise it by and what it may do (``read``, ``write`` or both; a repeated scope
    counts once)."""

    name: ShortText
    scopes: list[Scope]

    @field_validator("scopes")
    @classmethod
    def _non_empty_each_once(cls, scopes: list[Scope]) -> list[Scope]:
        if not scopes:
            raise ValueError("give at least one scope among read, write")
        return sorted(set(scopes))


class ApiKeyOut(BaseModel):
    """An API key as the list shows it; its secret is never shown again after creation."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(BaseModel):
    """A key just created, with its ``secret``: the only answer that ever contains it."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    secret: str
