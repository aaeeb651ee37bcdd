"""Request and response bodies of the documents service's HTTP API."""
