"""The documents service: every file of a case: records, checklists, thumbnails, shipping labels."""
