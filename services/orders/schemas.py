"""Request and response bodies of the orders service's HTTP API."""
