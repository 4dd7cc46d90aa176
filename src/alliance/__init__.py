"""alliance: make the therapeutic relationship visible and actionable."""

from alliance.errors import AllianceError, InputError

__all__ = ["AllianceError", "InputError", "__version__"]
__version__ = "0.1.0"
