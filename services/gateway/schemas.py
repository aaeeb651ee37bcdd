"""Request and response bodies of the gateway service's HTTP API."""
