"""Request and response bodies of the notifications service's HTTP API."""
