"""The event envelope (ARCHITECTURE.md rule 5) and the catalogue of event types and their payloads.

Importing this package registers every payload model of the catalogue (one module per publishing aggregate).
"""

from shared.events import (  # noqa: F401  (registers the payload models)
    cases,
    catalogue,
    doctors,
    documents,
    notifications,
    orders,
)
