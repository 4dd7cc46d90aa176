"""``{% support_panel client user as support %}``: the support tool's panel for the client page.

The panel computes its own context (through ``visible_to``), so the client page only includes
``support/_panel.html``.
"""

from __future__ import annotations

from typing import Any

from django import template

from alliance.clinic.practice.models import Client
from alliance.clinic.support.panel import SupportPanel, support_panel

register = template.Library()


@register.simple_tag(name="support_panel")
def panel(client: Client, user: Any) -> SupportPanel | None:
    """Return the support panel of ``client`` as ``user`` sees it (None: nothing calls for it)."""
    return support_panel(user, client)
