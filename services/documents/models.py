"""Tables of the documents service's own database (besides the messaging tables of ``shared.messaging``)."""
