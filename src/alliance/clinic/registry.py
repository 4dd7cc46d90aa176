"""The instruments this site offers: the bundled ones plus the directories named by the settings."""

from __future__ import annotations

import functools
import os

from django.conf import settings

from alliance.instruments import Registry, load_registry


@functools.cache
def instruments() -> Registry:
    """Return the site's instrument registry (loaded once per process)."""
    directories = [part for part in settings.ALLIANCE_INSTRUMENTS_DIR.split(os.pathsep) if part]
    return load_registry(extra_dirs=directories)
