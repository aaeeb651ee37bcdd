"""Submission rules of orders: what a complete aligner, retainer or modification order holds (pure functions, no I/O).

Sources: DOMAIN.md "Aligner order form" and API.md "Order body". A draft may hold any subset of fields with any
values; :func:`check_order` lists every missing or invalid field of a draft at once, as :class:`Problem` items whose
``field`` is a path into the order body (``general.duration.max_steps``, ``treatment_approach.extractions[1]``,
``terms_accepted``). The patient is reported under ``general.patient`` (the form shows it in General information),
although the body carries it at the top level as ``patient_id`` or ``patient``. :func:`incomplete_sections` turns the
problems into the sections, in form order, a resumed draft still has to complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.orders.fdi import tooth_problem

KINDS = ("aligner", "retainer", "modification")
SECTIONS: dict[str, tuple[str, ...]] = {
    "aligner": ("general", "records", "treatment_approach", "additional", "terms"),
    "retainer": ("general", "retainer", "additional", "terms"),
    "modification": ("modification",),
}
"""The sections of each kind of order, in form order (``terms`` holds ``terms_accepted``)."""

SEXES = ("female", "male", "other")
ARCHES = ("upper", "lower", "both")
DURATION_MODES = ("recommend", "limit")
WEAR_SCHEDULE_DAYS = (7, 10, 14, 21)
SCANS = ("digital", "pvs_impressions")
DENTITIONS = ("permanent", "mixed")
AP_RELATIONSHIPS = ("maintain", "improve", "correct")
OVERJET = OVERBITE = ("maintain", "improve")
MIDLINE = ("maintain", "move_upper", "move_lower")
CROSSBITE = ("maintain", "correct")
CROWDING = ("expand", "procline", "ipr", "distalise")
SPACING = ("close", "leave_for_restoration")
RETAINER_SOURCES = ("existing_step", "new_scans", "pvs_impressions")
SHIPPING_METHODS = ("standard", "express")
MODIFICATION_SOURCES = ("new_scans", "existing_step")

MAX_STEPS = (1, 100)
RETAINER_SETS = (1, 10)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
NAME_MAX = 100
TEXT_MAX = 5000
_EARTH_LEADING_OFFSET = timedelta(hours=14)
"""UTC+14 (Line Islands): no calendar date anywhere is later than today's date there."""


@dataclass(frozen=True)
class Problem:
    """A missing or invalid field: its path in the order body and what is wrong, for ``errors: [{field, message}]``."""

    field: str
    message: str


def today_anywhere(now: datetime | None = None) -> date:
    """The latest calendar date anywhere on Earth at ``now`` (default: the current instant).

    A date of birth after it is in the future for every doctor whatever their time zone; one equal to it is not.
    """
    return ((now or datetime.now(UTC)).astimezone(UTC) + _EARTH_LEADING_OFFSET).date()


def name_problem(value: object) -> str | None:
    """Why ``value`` is not a first or last name (a non-blank string of at most 100 characters), or None."""
    if not isinstance(value, str) or not value.strip():
        return "required"
    if len(value) > NAME_MAX:
        return f"at most {NAME_MAX} characters"
    return None


def birth_date_problem(value: object, today: date) -> str | None:
    """Why ``value`` is not a date of birth (a ``date`` or ISO ``YYYY-MM-DD`` string from 1900-01-01 up to
    ``today``), or None."""
    if value is None:
        return "required"
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return "must be a date as YYYY-MM-DD"
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return "must be a date as YYYY-MM-DD"
    if not isinstance(value, date) or isinstance(value, datetime):
        return "must be a date as YYYY-MM-DD"
    if value > today:
        return "must not be in the future"
    if value < EARLIEST_BIRTH_DATE:
        return f"must not be before {EARLIEST_BIRTH_DATE.isoformat()}"
    return None


def patient_problems(patient: Mapping[str, Any] | None, today: date, prefix: str = "general.patient") -> list[Problem]:
    """Problems of an order's patient: ``{first_name, last_name, date_of_birth, sex}``, or None when the order has
    none (then a single problem at ``prefix``)."""
    if patient is None:
        return [Problem(prefix, "choose an existing patient (patient_id) or enter a new one (patient)")]
    rules = _Rules(prefix)
    for key in ("first_name", "last_name"):
        rules.report(key, name_problem(patient.get(key)))
    rules.report("date_of_birth", birth_date_problem(patient.get("date_of_birth"), today))
    rules.choice(patient, "sex", SEXES)
    return rules.problems


def check_order(kind: str, body: Mapping[str, Any], patient: Mapping[str, Any] | None, today: date) -> list[Problem]:
    """Every missing or invalid field of an order of ``kind`` (``aligner``, ``retainer``, ``modification``), in
    form order; an empty list means the order may be submitted.

    ``body`` is the draft as stored (sections as dicts, ``terms_accepted``; a modification's fields at the top
    level); ``patient`` is the order's patient as data (an existing patient's record or the new patient typed into
    the draft), None when there is none; ``today`` bounds the date of birth (see :func:`today_anywhere`). Modification
    orders take their patient from the case, so ``patient`` is not checked for them. Raises ``ValueError`` for an
    unknown kind.
    """
    if kind == "aligner":
        return _aligner(body, patient, today)
    if kind == "retainer":
        return _retainer(body, patient, today)
    if kind == "modification":
        return _modification(body)
    raise ValueError(f"unknown order kind {kind!r}")


def section_of(kind: str, field: str) -> str:
    """The form section a problem's field path belongs to (``terms_accepted`` → ``terms``)."""
    if kind == "modification":
        return "modification"
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    return "terms" if head == "terms_accepted" else head


def incomplete_sections(kind: str, problems: Iterable[Problem]) -> list[str]:
    """The sections of ``kind`` holding at least one of ``problems``, in form order (empty: ready to submit)."""
    touched = {section_of(kind, problem.field) for problem in problems}
    return [section for section in SECTIONS[kind] if section in touched]


class _Rules:
    """Collects the problems of one object, whose fields are reported under ``prefix``."""

    def __init__(self, prefix: str = "", problems: list[Problem] | None = None) -> None:
        self.prefix = prefix
        self.problems: list[Problem] = [] if problems is None else problems

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def nested(self, owner: Mapping[str, Any], key: str) -> tuple[Mapping[str, Any], _Rules]:
        """The object at ``owner[key]`` ({} when absent; a problem when not an object) and rules for its fields."""
        value = owner.get(key)
        if value is not None and not isinstance(value, Mapping):
            self.report(key, "must be an object")
            value = None
        return value or {}, _Rules(self.path(key), self.problems)

    def report(self, key: str, message: str | None) -> None:
        if message is not None:
            self.problems.append(Problem(self.path(key), message))

    def choice(self, owner: Mapping[str, Any], key: str, allowed: Sequence[object], required: bool = True) -> None:
        value = owner.get(key)
        if value is None:
            self.report(key, "required" if required else None)
        elif isinstance(value, bool) or value not in allowed:
            self.report(key, f"must be one of {', '.join(str(choice) for choice in allowed)}")

    def text(self, owner: Mapping[str, Any], key: str, required: bool = True, limit: int = TEXT_MAX) -> None:
        value = owner.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.report(key, "required" if required else None)
        elif not isinstance(value, str):
            self.report(key, "must be text")
        elif len(value) > limit:
            self.report(key, f"at most {limit} characters")

    def integer(self, owner: Mapping[str, Any], key: str, low: int, high: int | None = None) -> None:
        value = owner.get(key)
        if value is None:
            self.report(key, "required")
        elif isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
            self.report(key, f"must be a whole number from {low} to {high}" if high else f"must be at least {low}")

    def boolean(self, owner: Mapping[str, Any], key: str) -> None:
        value = owner.get(key)
        if value is None:
            self.report(key, "required")
        elif not isinstance(value, bool):
            self.report(key, "must be true or false")

    def items(self, owner: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
        """The ``(path, item)`` pairs of the optional list at ``owner[key]``; a problem when it is not a list."""
        value = owner.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.report(key, "must be a list")
            return []
        return [(f"{self.path(key)}[{index}]", item) for index, item in enumerate(value)]

    def choices(self, owner: Mapping[str, Any], key: str, allowed: Sequence[str]) -> None:
        """An optional list of distinct values among ``allowed``."""
        seen: set[object] = set()
        for path, item in self.items(owner, key):
            if not isinstance(item, str) or item not in allowed:
                self.problems.append(Problem(path, f"must be one of {', '.join(allowed)}"))
            elif item in seen:
                self.problems.append(Problem(path, f"{item} is listed twice"))
            else:
                seen.add(item)

    def teeth(self, owner: Mapping[str, Any], key: str, dentition: object) -> list[tuple[str, int]]:
        """An optional list of distinct FDI teeth; returns the valid, first-seen ones with their paths."""
        seen: set[int] = set()
        valid: list[tuple[str, int]] = []
        for path, item in self.items(owner, key):
            message = tooth_problem(item, dentition if isinstance(dentition, str) else None)
            if message is not None:
                self.problems.append(Problem(path, message))
            elif item in seen:
                self.problems.append(Problem(path, f"tooth {item} is listed twice"))
            else:
                seen.add(item)
                valid.append((path, item))
        return valid


def _aligner(body: Mapping[str, Any], patient: Mapping[str, Any] | None, today: date) -> list[Problem]:
    top = _Rules()
    general, rules = top.nested(body, "general")
    top.problems.extend(patient_problems(patient, today))
    rules.text(general, "practice_id", limit=NAME_MAX)
    rules.choice(general, "arches", ARCHES)
    rules.text(general, "chief_concern")
    duration, duration_rules = rules.nested(general, "duration")
    duration_rules.choice(duration, "mode", DURATION_MODES)
    if duration.get("mode") == "limit":
        duration_rules.integer(duration, "max_steps", *MAX_STEPS)
    rules.choice(general, "wear_schedule_days", WEAR_SCHEDULE_DAYS)

    records, rules = top.nested(body, "records")
    rules.choice(records, "scans", SCANS)
    if records.get("scans") == "digital":
        rules.text(records, "scanner", limit=NAME_MAX)

    approach, rules = top.nested(body, "treatment_approach")
    _treatment_approach(approach, rules)
    _additional(body, top)
    _terms(body, top)
    return top.problems


def _treatment_approach(approach: Mapping[str, Any], rules: _Rules) -> None:
    rules.choice(approach, "dentition", DENTITIONS)
    sides, side_rules = rules.nested(approach, "ap_relationship")
    for side in ("right", "left"):
        side_rules.choice(sides, side, AP_RELATIONSHIPS)
    rules.choice(approach, "overjet", OVERJET)
    rules.choice(approach, "overbite", OVERBITE)
    rules.choice(approach, "midline", MIDLINE)
    crossbite, crossbite_rules = rules.nested(approach, "crossbite")
    for region in ("anterior", "posterior"):
        crossbite_rules.choice(crossbite, region, CROSSBITE)
    crowding, crowding_rules = rules.nested(approach, "crowding")
    for arch in ("upper", "lower"):
        crowding_rules.choices(crowding, arch, CROWDING)
    rules.choice(approach, "spacing", SPACING)
    rules.boolean(approach, "ipr_allowed")
    rules.boolean(approach, "attachments_allowed")
    dentition = approach.get("dentition")
    extractions = rules.teeth(approach, "extractions", dentition)
    kept = {tooth for _, tooth in rules.teeth(approach, "teeth_not_to_move", dentition)}
    for path, tooth in extractions:
        if tooth in kept:
            rules.problems.append(Problem(path, f"tooth {tooth} is also listed in teeth_not_to_move"))


def _additional(body: Mapping[str, Any], top: _Rules) -> None:
    additional, rules = top.nested(body, "additional")
    rules.text(additional, "instructions", required=False)
    seen: set[str] = set()
    for path, item in rules.items(additional, "collaborator_ids"):
        if not isinstance(item, str) or not item.strip():
            rules.problems.append(Problem(path, "must be a collaborator id"))
        elif item in seen:
            rules.problems.append(Problem(path, "listed twice"))
        else:
            seen.add(item)


def _terms(body: Mapping[str, Any], top: _Rules) -> None:
    if body.get("terms_accepted") is not True:
        top.report("terms_accepted", "the terms must be accepted")


def _retainer(body: Mapping[str, Any], patient: Mapping[str, Any] | None, today: date) -> list[Problem]:
    top = _Rules()
    general, rules = top.nested(body, "general")
    top.problems.extend(patient_problems(patient, today))
    rules.text(general, "practice_id", limit=NAME_MAX)
    rules.choice(general, "arches", ARCHES)
    retainer, rules = top.nested(body, "retainer")
    rules.choice(retainer, "source", RETAINER_SOURCES)
    if retainer.get("source") == "existing_step":
        rules.integer(retainer, "step", 1)
    rules.integer(retainer, "sets", *RETAINER_SETS)
    rules.choice(retainer, "shipping_method", SHIPPING_METHODS)
    _additional(body, top)
    _terms(body, top)
    return top.problems


def _modification(body: Mapping[str, Any]) -> list[Problem]:
    rules = _Rules()
    rules.text(body, "reason")
    rules.choice(body, "source", MODIFICATION_SOURCES)
    if body.get("source") == "existing_step":
        rules.integer(body, "step", 1)
    rules.text(body, "instructions")
    return rules.problems
