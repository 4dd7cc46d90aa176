"""CLI commands (being written)."""

from alliance.cli.app import app  # noqa: F401
