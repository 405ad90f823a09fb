"""Errors of the web app, all subclasses of the project's one base class."""

from __future__ import annotations

from openidds.errors import OpenIDDSError


class AccountError(OpenIDDSError):
    """A user account refused: the message names the field, the value and what was expected."""


class LoginRefused(OpenIDDSError):
    """A log-in refused: wrong name or password (never saying which), or an account locked."""


class Forbidden(OpenIDDSError):
    """The logged-in user's role does not hold the permission a page or API call needs (HTTP 403)."""


class CsrfRefused(OpenIDDSError):
    """A form or API write without the session's CSRF token (HTTP 403)."""


class StaleEdit(OpenIDDSError):
    """A change made from a stale view: the record was changed by someone else since the page was loaded
    (HTTP 409); the message says who changed it and when, and to reload."""


class InputRefused(OpenIDDSError):
    """A form field, query or path parameter refused (HTTP 422), by a service or by the request's validation:
    the message names the field, the value and what was expected."""


class NoResearchSeed(OpenIDDSError):
    """The server was started without the research export's seed, so it cannot show patients under their
    research IDs (HTTP 503)."""
