"""Tables of the cases service's own database (besides the messaging tables of ``shared.messaging``)."""
