"""The orders service: patients and orders (aligner, retainer, modification), drafts and order numbers."""
