"""Django's middleware, run in the event loop under ASGI: no thread hop per middleware.

Django's ``MiddlewareMixin`` is async-capable, but in async mode it runs each
``process_request``/``process_response`` through ``sync_to_async``: with the default
stack that is about fifteen hand-offs to a thread and back on every request, the largest
cost of an API request after the view itself. The hooks of the middleware below only
read and write headers, cookies and lazy attributes — no I/O — so they are called
inline. The one exception is a hook that would save something: the session when it was
modified, messages that were used or added (they go into the session). Those requests
(the admin's) run the hook in a thread as before.

Under WSGI (the test client) each class behaves exactly as the Django middleware it
extends.

Static files: ``StaticFilesMiddleware`` is WhiteNoise answering only below
``STATIC_URL``; every other path goes straight on, without WhiteNoise's synchronous
call in the way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware as _XFrameOptions
from django.middleware.common import CommonMiddleware as _Common
from django.middleware.csrf import CsrfViewMiddleware as _Csrf
from django.middleware.security import SecurityMiddleware as _Security
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

GetResponse = Callable[[HttpRequest], Any]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class _InlineHooks(MiddlewareMixin):
    """Runs a ``MiddlewareMixin``'s hooks in the loop; see the module docstring.

    Mixed in before the Django class, so each middleware below *is* the Django one
    (``isinstance`` and the admin's checks of ``MIDDLEWARE`` still see it).
    """

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        sync_process_view = getattr(self, "process_view", None)
        if self.async_mode and sync_process_view is not None:
            # Django adapts a synchronous process_view with sync_to_async: hand it a
            # coroutine function instead, so the view hook stays in the loop too.
            async def process_view(
                request: HttpRequest, view: Any, args: Any, kwargs: Any
            ) -> HttpResponseBase | None:
                return sync_process_view(request, view, args, kwargs)

            setattr(self, "process_view", process_view)  # noqa: B010 - shadows the method

    def needs_thread(self, request: HttpRequest) -> bool:
        """True when this request's ``process_response`` may do I/O."""
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        if response is None:
            get_response = cast(
                Callable[[HttpRequest], Awaitable[HttpResponseBase]], self.get_response
            )
            response = await get_response(request)
        if hasattr(self, "process_response"):
            if self.needs_thread(request):
                process_response = sync_to_async(self.process_response, thread_sensitive=True)
                response = await process_response(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(_InlineHooks, _Security):
    pass


class SessionMiddleware(_InlineHooks, _Session):
    def needs_thread(self, request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(_InlineHooks, _Common):
    pass


class CsrfViewMiddleware(_InlineHooks, _Csrf):
    pass


class AuthenticationMiddleware(_InlineHooks, _Authentication):
    pass


class MessageMiddleware(_InlineHooks, _Messages):
    def needs_thread(self, request: HttpRequest) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and bool(storage.used or storage.added_new)


class XFrameOptionsMiddleware(_InlineHooks, _XFrameOptions):
    pass


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise below ``STATIC_URL`` only; in async mode other paths never leave the loop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        get_response: AsyncGetResponse = self.get_response
        if request.path_info.startswith(self.static_prefix):
            # Finding (with autorefresh) and opening the file touch the disk: in a thread.
            response = await sync_to_async(self._static_response, thread_sensitive=False)(request)
            if response is not None:
                return response
        return await get_response(request)

    def _static_response(self, request: HttpRequest) -> HttpResponseBase | None:
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        return None if static_file is None else self.serve(static_file, request)
