"""Every test gets the fixtures of ``tests/harness``: its own broker virtual host, databases, settings, nodes, and
``portal run`` environments."""

pytest_plugins = ["tests.harness.fixtures", "tests.harness.portal_run"]
