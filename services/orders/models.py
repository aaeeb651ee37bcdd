"""Tables of the orders service's own database (besides the messaging tables of ``shared.messaging``)."""
