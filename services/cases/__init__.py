"""The cases service: what happens to a case after its order (DOMAIN.md "Case status"), and the orders list.

Routes under ``/v1`` (``services.cases.api``, one module per area; the gateway exposes them under ``/api/v1``). The
rules: ``statuses`` (every status and allowed move, as one table), ``lifecycle`` (the only code that moves a case:
history and events), ``intake`` (where a submitted order leads, from facts arriving in any order), ``expiry``
(packages, expiry dates and levels, the reminder and expiry job), ``listing`` (the orders list's one query),
``insights`` (counts and period metrics), ``views`` (the JSON bodies). Events consumed in ``events`` (payloads in
``shared.events``); tables in ``models``.
"""
