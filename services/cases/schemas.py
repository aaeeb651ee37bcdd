"""Request and response bodies of the cases service's HTTP API."""
