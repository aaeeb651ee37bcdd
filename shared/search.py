"""Search keys of names: accent-, case- and spacing-insensitive, the same on SQLite and PostgreSQL.

Neither database folds accents the same way (SQLite has no ``unaccent``), so a service stores a normalised key
beside each name and searches it with plain ``LIKE``: Unicode NFKD decomposition with the combining marks dropped,
then case folding (Unicode default case folding: "Zoë" → "zoe", "Straße" → "strasse"), whitespace collapsed.
"""

from __future__ import annotations

import unicodedata


def normalise(text: str) -> str:
    """``text`` without accents, case-folded, with runs of whitespace as one space and none at either end."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def search_key(first_name: str, last_name: str) -> str:
    """The stored key of a patient: ``"<last> <first>"`` normalised (it also orders the patient list)."""
    return normalise(f"{last_name} {first_name}")


def search_terms(query: str) -> list[str]:
    """The normalised words of a search; a patient matches when every word occurs in their key."""
    return normalise(query).split()


def like_pattern(term: str) -> str:
    """A ``LIKE`` pattern (escape character ``\\``) matching ``term`` anywhere, its wildcards taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
