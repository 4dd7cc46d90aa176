"""Security headers on every response: a Content-Security-Policy without inline script or style, and friends.

Django's ``SecurityMiddleware`` already sends ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
``Cross-Origin-Opener-Policy`` and HSTS over HTTPS; ``XFrameOptionsMiddleware`` sends ``X-Frame-Options: DENY``.
This middleware adds what Django 5.2 lacks: CSP (with ``frame-ancestors 'none'``), ``Permissions-Policy`` and
``Cross-Origin-Resource-Policy``, and Django's own headers on responses its middleware never saw (static files).
``Referrer-Policy`` is ``same-origin``, not ``no-referrer``: with the latter, browsers post forms with
``Origin: null``, which Django's CSRF check rightly refuses.

Every page of the app is server-rendered with its styles in ``static/alliance/*.css`` and no script at all, so
the policy allows neither inline script nor inline style. The Django admin (practice admins only) is the one
exception for styles: its own templates carry a few ``style`` attributes and a ``<style>`` block, so under
``/admin/`` ``style-src`` also allows ``'unsafe-inline'``; scripts stay ``'self'`` there too.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

__all__ = ["ADMIN_CSP", "CSP", "PERMISSIONS_POLICY", "SecurityHeadersMiddleware"]

_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
CSP = "; ".join(f"{name} {value}" for name, value in _DIRECTIVES.items())
ADMIN_CSP = "; ".join(
    f"{name} {value} 'unsafe-inline'" if name == "style-src" else f"{name} {value}"
    for name, value in _DIRECTIVES.items()
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)


class SecurityHeadersMiddleware:
    """Add CSP, Permissions-Policy and Cross-Origin-Resource-Policy (and, where Django's middleware did not run,
    its headers) to every response that lacks them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = ADMIN_CSP if request.path.startswith("/admin/") else CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        # Static files (WhiteNoise answers before Django's own header middleware) get these here.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response
