"""``python -m shared.cli`` runs the ``portal`` command."""

from shared.cli.main import app

app(prog_name="portal")
