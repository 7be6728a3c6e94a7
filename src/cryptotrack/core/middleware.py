"""A base for middleware that works on the request before and the response after.

Django's ``MiddlewareMixin`` runs ``process_request``/``process_response`` through
``sync_to_async`` when the stack is async: a thread hand-off per request and per
middleware. Middleware built on :class:`RequestResponseMiddleware` runs its two hooks
inline in either mode, so a request served on the event loop stays there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase


class RequestResponseMiddleware:
    """Calls :meth:`before` with the request and :meth:`after` with the response.

    Both hooks must be quick and must not touch the database or the disk: in async mode
    they run on the event loop. What ``before`` returns is handed to ``after``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def before(self, request: HttpRequest) -> Any:
        """Work on the request before the view; the value is passed to :meth:`after`."""
        return None

    def after(
        self, request: HttpRequest, response: HttpResponseBase, state: Any
    ) -> HttpResponseBase:
        """Work on the response on its way out; returns it (or another one)."""
        return response

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        state = self.before(request)
        return self.after(request, self.get_response(request), state)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        state = self.before(request)
        response: Awaitable[HttpResponseBase] = self.get_response(request)
        return self.after(request, await response, state)
