"""Tables of the notifications service's own database (besides the messaging tables of ``shared.messaging``)."""
