"""Tables of the gateway service's own database (besides the messaging tables of ``shared.messaging``)."""
