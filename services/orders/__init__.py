"""The orders service: patients and orders (aligner, retainer, modification), drafts and order numbers.

Routes under ``/v1`` (``services.orders.api``): ``/patients``, ``/patients/{id}``, ``/orders``, ``/orders/{id}``,
``/orders/{id}/submit``, ``/cases/{case_id}/modifications``. Submission rules live in ``validation`` (pure), tooth
numbers in ``fdi``, draft merging in ``drafts``, order numbers in ``numbering``, ``Idempotency-Key`` handling in
``idempotency``, events published and consumed in ``events`` (payloads in ``shared.events.orders``).
"""
