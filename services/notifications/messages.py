"""The words of every notification and e-mail, in English and French (ISO 639-1 ``en``, ``fr``).

A notification keeps its ``kind`` and ``params`` (the facts of the event it tells of); :func:`render` words them in the
reader's language when shown or sent, so a doctor who switches language reads everything in the new one. A language
without texts falls back to English. Dates are written as ISO 8601 calendar dates (``2026-12-05``), which read the same
in every language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "fr")
"""Languages with texts; the first is the fallback."""

SLOT_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "photo.face_frontal": "face photo (frontal)",
        "photo.face_smiling": "face photo (smiling)",
        "photo.face_profile": "face photo (profile)",
        "photo.intraoral_frontal": "intra-oral photo (frontal)",
        "photo.right_buccal": "right buccal photo",
        "photo.left_buccal": "left buccal photo",
        "photo.upper_occlusal": "upper occlusal photo",
        "photo.lower_occlusal": "lower occlusal photo",
        "scan.upper": "upper arch scan",
        "scan.lower": "lower arch scan",
        "scan.bite": "bite scan",
        "xray.panoramic": "panoramic X-ray",
        "xray.cephalometric": "cephalometric X-ray",
        "other": "other document",
    },
    "fr": {
        "photo.face_frontal": "photo du visage (de face)",
        "photo.face_smiling": "photo du visage (sourire)",
        "photo.face_profile": "photo du visage (profil)",
        "photo.intraoral_frontal": "photo intrabuccale (de face)",
        "photo.right_buccal": "photo vestibulaire droite",
        "photo.left_buccal": "photo vestibulaire gauche",
        "photo.upper_occlusal": "photo occlusale maxillaire",
        "photo.lower_occlusal": "photo occlusale mandibulaire",
        "scan.upper": "empreinte numérique maxillaire",
        "scan.lower": "empreinte numérique mandibulaire",
        "scan.bite": "empreinte numérique d'occlusion",
        "xray.panoramic": "radiographie panoramique",
        "xray.cephalometric": "radiographie céphalométrique",
        "other": "autre document",
    },
}
"""What each record slot (DOMAIN.md "Records checklist") is called in each language."""

STATUS_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "incomplete_submission": "Incomplete submission",
        "setup_approval_pending": "Treatment setup approval pending",
        "awaiting_records": "Awaiting impressions / records",
        "submission_problem": "Problem with submission",
        "setup_in_progress": "Treatment setup in progress",
        "in_production": "In production",
        "shipped": "Shipping or delivered",
        "on_hold": "On hold",
        "last_phase_delivered": "Last phase delivered",
        "expired": "Expired",
        "cancelled": "Cancelled",
    },
    "fr": {
        "incomplete_submission": "Soumission incomplète",
        "setup_approval_pending": "Setup de traitement en attente d'approbation",
        "awaiting_records": "En attente des empreintes / documents",
        "submission_problem": "Problème de soumission",
        "setup_in_progress": "Setup de traitement en cours",
        "in_production": "En production",
        "shipped": "Expédié ou livré",
        "on_hold": "En pause",
        "last_phase_delivered": "Dernière phase livrée",
        "expired": "Expiré",
        "cancelled": "Annulé",
    },
}
"""The status labels of DOMAIN.md "Case status" in each language."""

TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "setup_published": (
            "Treatment setup v{version} awaits your approval",
            "{case}: the lab published treatment setup v{version} ({steps_upper} upper, {steps_lower} lower steps). "
            "Review it, then approve it or ask for changes.",
        ),
        "records_missing": (
            "Records needed",
            "{case}: the lab needs {slots} to start the treatment setup.",
        ),
        "records_missing_pvs": (
            "PVS impressions to send",
            "{case}: print the shipping label and mail the PVS impressions to the lab.",
        ),
        "submission_problem": (
            "Problem with the submission",
            "{case}: the lab cannot use the records as sent: {reason}{slot_list}",
        ),
        "phase_shipped": (
            "Phase {number} shipped",
            "{case}: phase {number} (steps {steps_from} to {steps_to}) left the lab with {carrier}, tracking number "
            "{tracking_number}.",
        ),
        "last_phase_delivered": (
            "Last phase delivered",
            "{case}: phase {number}, the last one, was delivered to the practice.",
        ),
        "case_on_hold": ("Case on hold", "{case} is on hold: {reason}"),
        "case_resumed": ("Case resumed", "{case} was resumed: {status}."),
        "case_expiring_soon": (
            "Case expires in {days_before} days",
            "{case} expires on {expires_on}. Order what the patient still needs before then.",
        ),
        "case_expired": ("Case expired", "{case} expired on {expired_on}."),
        "setup_ready_for_approval": (
            "Setup v{version} ready for your approval",
            "{case}: your collaborator reviewed treatment setup v{version} and marked it ready for your approval.",
        ),
    },
    "fr": {
        "setup_published": (
            "Le setup de traitement v{version} attend votre approbation",
            "{case} : le laboratoire a publié le setup de traitement v{version} ({steps_upper} étapes au maxillaire, "
            "{steps_lower} à la mandibule). Examinez-le, puis approuvez-le ou demandez des modifications.",
        ),
        "records_missing": (
            "Documents manquants",
            "{case} : le laboratoire a besoin de : {slots} pour commencer le setup de traitement.",
        ),
        "records_missing_pvs": (
            "Empreintes PVS à envoyer",
            "{case} : imprimez l'étiquette d'expédition et envoyez les empreintes PVS au laboratoire.",
        ),
        "submission_problem": (
            "Problème avec la soumission",
            "{case} : le laboratoire ne peut pas utiliser les documents envoyés : {reason}{slot_list}",
        ),
        "phase_shipped": (
            "Phase {number} expédiée",
            "{case} : la phase {number} (étapes {steps_from} à {steps_to}) a quitté le laboratoire avec {carrier}, "
            "numéro de suivi {tracking_number}.",
        ),
        "last_phase_delivered": (
            "Dernière phase livrée",
            "{case} : la phase {number}, la dernière, a été livrée au cabinet.",
        ),
        "case_on_hold": ("Cas en pause", "{case} est en pause : {reason}"),
        "case_resumed": ("Cas repris", "{case} a repris : {status}."),
        "case_expiring_soon": (
            "Le cas expire dans {days_before} jours",
            "{case} expire le {expires_on}. Commandez d'ici là ce dont le patient a encore besoin.",
        ),
        "case_expired": ("Cas expiré", "{case} a expiré le {expired_on}."),
        "setup_ready_for_approval": (
            "Setup v{version} prêt pour votre approbation",
            "{case} : votre collaborateur a examiné le setup de traitement v{version} et l'a marqué prêt pour "
            "votre approbation.",
        ),
    },
}
"""Title and body of each kind, in each language (``records_missing_pvs``: records missing when PVS impressions
are to be mailed rather than files uploaded)."""

EMAIL: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Dear Dr {last_name},",
        "open": "Open the case: {url}",
        "footer": "You receive this e-mail because it is switched on in your Doctor Portal account "
        "(Account > E-mail notifications).",
        "digest_subject": "Doctor Portal: your digest of {day} ({count} update(s))",
        "digest_intro": "Here is what happened on your cases since your last digest, up to {day} {hour:02d}:00.",
        "a_case": "Your case",
        "reason_unknown": "no reason given",
    },
    "fr": {
        "greeting": "Bonjour Dr {last_name},",
        "open": "Ouvrir le cas : {url}",
        "footer": "Vous recevez cet e-mail car il est activé dans votre compte Doctor Portal "
        "(Compte > Notifications par e-mail).",
        "digest_subject": "Doctor Portal : votre récapitulatif du {day} ({count} nouvelle(s))",
        "digest_intro": "Voici ce qui s'est passé sur vos cas depuis votre dernier récapitulatif, jusqu'au {day} à "
        "{hour:02d}h00.",
        "a_case": "Votre cas",
        "reason_unknown": "aucun motif indiqué",
    },
}
"""The words around an e-mail's notifications, in each language."""


@dataclass(frozen=True)
class Words:
    """A notification worded in one language: ``title`` (one line) and ``body`` (a few sentences)."""

    title: str
    body: str


def language_of(language: str | None) -> str:
    """``language`` when it has texts (``fr-CA`` counts as ``fr``), else English."""
    base = (language or "").split("-")[0].lower()
    return base if base in LANGUAGES else LANGUAGES[0]


def email_text(language: str, key: str, **values: Any) -> str:
    """The e-mail phrase ``key`` of :data:`EMAIL` in ``language`` with ``values`` filled in."""
    return EMAIL[language_of(language)][key].format(**values)


def render(kind: str, params: dict[str, Any], language: str | None) -> Words:
    """The title and body of a notification of ``kind`` with ``params`` (what :mod:`services.notifications.events`
    keeps of its event) in ``language``. Raises ``KeyError`` for a kind without texts."""
    lang = language_of(language)
    values = dict(params)
    values["case"] = (
        " · ".join(p for p in (params.get("order_number"), params.get("patient_name")) if p) or EMAIL[lang]["a_case"]
    )
    slots = [SLOT_NAMES[lang].get(slot, slot) for slot in params.get("slots") or []]
    values["slots"] = ", ".join(slots)
    values["slot_list"] = f" ({', '.join(slots)})" if slots else ""
    values["reason"] = params.get("reason") or EMAIL[lang]["reason_unknown"]
    values["status"] = STATUS_NAMES[lang].get(params.get("status") or "", params.get("status") or "")
    key = "records_missing_pvs" if kind == "records_missing" and not slots else kind
    title, body = TEXTS[lang][key]
    facts = _Facts(values)
    return Words(title.format_map(facts), body.format_map(facts))


class _Facts(dict[str, Any]):
    """The values a text is filled with; a fact the event did not carry reads as an ellipsis, never an error (a
    carousel must show even a notification stored before its text changed)."""

    def __missing__(self, key: str) -> str:
        return "…"
