"""The production server behind ``alliance serve``: gunicorn running the clinic's WSGI application.

Gunicorn is driven programmatically (``BaseApplication``), so no configuration file or command line of its own is
read: what ``alliance serve`` passes is what runs. Static files are served by WhiteNoise inside the application.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

__all__ = ["ClinicServer", "default_workers", "ensure_free"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def default_workers() -> int:
    """Return a worker count for this machine: two to four processes (each with a few threads)."""
    return max(2, min(4, (os.cpu_count() or 1) + 1))


def ensure_free(host: str, port: int) -> None:
    """Raise ``OSError`` unless ``host:port`` can be listened on (gunicorn would retry for seconds, then exit)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        probe.bind(address)


# gunicorn ships no type hints, so its base class is Any to mypy.
class ClinicServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn serving the clinic app on ``host:port`` with ``workers`` processes of ``threads`` threads each.

    Access logs are off: check-in links carry their one-time secret in the path, and those must not be logged.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        workers: int | None = None,
        threads: int = 4,
        timeout: int = 30,
        application: WSGIApp | None = None,
    ) -> None:
        self.options: Mapping[str, Any] = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers or default_workers(),
            "worker_class": "gthread",
            "threads": threads,
            "timeout": timeout,
            "graceful_timeout": timeout,
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "alliance",
            # gunicorn >= 25 opens a control socket in the home directory by default; nothing here uses it.
            "control_socket_disable": True,
            # Load Django and its URLs once in the master, before forking: a worker that dies (or the whole server,
            # restarted after a crash) serves again in a fraction of the time, and the workers share that memory.
            "preload_app": True,
        }
        self.application = application
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are left out
                self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        """Return the WSGI application, loaded in the master with its URLs; no database connection crosses the fork."""
        if self.application is not None:
            return self.application
        from django.db import connections
        from django.urls import get_resolver

        from alliance.clinic.wsgi import application

        get_resolver().url_patterns  # noqa: B018  (imports every view and the API now, not on the first request)
        connections.close_all()  # each worker opens its own
        return application
