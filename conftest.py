"""Every test gets the fixtures of ``tests/harness``."""

pytest_plugins = ["tests.harness.fixtures"]
