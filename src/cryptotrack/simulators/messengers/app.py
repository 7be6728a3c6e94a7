"""The messaging simulator's aiohttp app: Telegram's Bot API ``sendMessage``, Discord and
Slack incoming webhooks, ntfy publishing, and a plain webhook receiver — each answering as
the real service does (status, body and content type; see tests/fixtures/upstream/ for
the recorded answers it is held to). Control endpoints live under ``/_sim/``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cryptotrack.simulators.control import CONTROL_PREFIX, json_handler
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import FaultInjector, add_fault_routes
from cryptotrack.simulators.messengers.state import MessengersState, Received

STATE_KEY: web.AppKey[MessengersState] = web.AppKey("messengers_state", MessengersState)

TELEGRAM_TEXT_LIMIT = 4096
DISCORD_CONTENT_LIMIT = 2000
NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
NTFY_CACHE_SECONDS = 12 * 3600
NTFY_AUTH_LINK = "https://ntfy.sh/docs/publish/#authentication"
# Headers worth keeping in the log of what was received (never the Authorization value).
_KEPT_HEADERS = ("content-type", "user-agent", "title", "priority", "tags", "x-title")

Answer = tuple[int, Any]  # (status, JSON-able body, or a str sent as text/plain)
Service = Callable[[web.Request, MessengersState, str], Awaitable[Answer]]


def _answer(status: int, body: Any) -> web.Response:
    if body is None:
        return web.Response(status=status)
    if isinstance(body, str):
        # Slack answers its webhooks with a bare word ("ok", "no_service") as text/html.
        return web.Response(status=status, text=body, content_type="text/html")
    return web.json_response(body, status=status)


async def _params(request: web.Request, raw: str) -> dict[str, Any]:
    """A Bot API call's parameters: JSON, form or query string, as Telegram accepts them."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json" and raw:
        loaded = json.loads(raw)
        if isinstance(loaded, dict):
            params.update(loaded)
    elif raw:
        params.update(await request.post())
    return params


def _telegram_error(status: int, description: str, **parameters: Any) -> Answer:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


async def telegram(request: web.Request, state: MessengersState, raw: str) -> Answer:
    token = request.match_info["token"]
    if request.match_info["method"] != "sendMessage":
        return _telegram_error(404, "Not Found")
    if not state.telegram_bots.allows(token):
        return _telegram_error(401, "Unauthorized")
    try:
        params = await _params(request, raw)
    except json.JSONDecodeError:
        return _telegram_error(400, "Bad Request: can't parse JSON object")
    chat_id, text = str(params.get("chat_id") or ""), str(params.get("text") or "")
    if not chat_id:
        return _telegram_error(400, "Bad Request: chat_id is empty")
    if not text.strip():
        return _telegram_error(400, "Bad Request: message text is empty")
    if len(text) > TELEGRAM_TEXT_LIMIT:
        return _telegram_error(400, "Bad Request: message is too long")
    chats = state.telegram_chats.get(token)
    if chats is not None and chat_id not in chats:
        return _telegram_error(400, "Bad Request: chat not found")
    bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
    chat: dict[str, Any] = {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id}
    chat["type"] = "private" if isinstance(chat["id"], int) and chat["id"] > 0 else "channel"
    message = {
        "message_id": len(state.messages("telegram", accepted_only=True)) + 1,
        "from": {"id": bot_id, "is_bot": True, "first_name": "cryptotrack", "username": "sim_bot"},
        "chat": chat,
        "date": int(time.time()),
        "text": text,
    }
    return 200, {"ok": True, "result": message}


async def discord(request: web.Request, state: MessengersState, raw: str) -> Answer:
    hook = f"{request.match_info['id']}/{request.match_info['token']}"
    if not state.discord_webhooks.allows(hook):
        return 404, {"message": "Unknown Webhook", "code": 10015}
    try:
        payload = json.loads(raw or "null")
    except json.JSONDecodeError:
        return 400, {"message": "The request body contains invalid JSON.", "code": 50109}
    if not isinstance(payload, dict) or not (payload.get("content") or payload.get("embeds")):
        return 400, {"message": "Cannot send an empty message", "code": 50006}
    content = payload.get("content") or ""
    if len(str(content)) > DISCORD_CONTENT_LIMIT:
        error = {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
        return 400, {
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {"content": {"_errors": [error]}},
        }
    if request.query.get("wait") != "true":
        return 204, None
    return 200, {
        "id": str(secrets.randbits(60)),
        "type": 0,
        "content": content,
        "channel_id": request.match_info["id"],
        "webhook_id": request.match_info["id"],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
    }


async def slack(request: web.Request, state: MessengersState, raw: str) -> Answer:
    hook = "/".join(request.match_info[part] for part in ("team", "bot", "secret"))
    if not state.slack_hooks.allows(hook):
        return 404, "no_service"
    try:
        payload = json.loads(raw or "null")
    except json.JSONDecodeError:
        return 400, "invalid_payload"
    if not isinstance(payload, dict):
        return 400, "invalid_payload"
    if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
        return 400, "no_text"
    return 200, "ok"


def _ntfy_error(status: int, code: int, error: str, link: str = "") -> Answer:
    body: dict[str, Any] = {"code": code, "http": status, "error": error}
    if link:
        body["link"] = link
    return status, body


async def ntfy(request: web.Request, state: MessengersState, raw: str) -> Answer:
    topic = request.match_info.get("topic", "")
    message, title, priority, tags = raw, "", "", ""
    if not topic:  # JSON publishing: POST / with the topic in the body
        try:
            payload = json.loads(raw or "null")
        except json.JSONDecodeError:
            return _ntfy_error(400, 40017, "invalid request: request body must be message JSON")
        if not isinstance(payload, dict):
            return _ntfy_error(400, 40017, "invalid request: request body must be message JSON")
        topic = str(payload.get("topic") or "")
        message, title = str(payload.get("message") or ""), str(payload.get("title") or "")
        priority = str(payload.get("priority") or "")
        tags = ",".join(payload.get("tags") or [])
    else:
        headers = request.headers
        title = headers.get("Title") or headers.get("X-Title") or headers.get("t") or ""
        priority = headers.get("Priority") or headers.get("X-Priority") or ""
        tags = headers.get("Tags") or headers.get("X-Tags") or ""
    if not NTFY_TOPIC.match(topic):
        return _ntfy_error(400, 40009, "invalid request: topic invalid")
    wanted = state.ntfy_tokens.get(topic)
    if wanted is not None:
        given = request.headers.get("Authorization", "")
        if not given:
            return _ntfy_error(401, 40101, "unauthorized", NTFY_AUTH_LINK)
        if given != f"Bearer {wanted}":
            return _ntfy_error(403, 40301, "forbidden", NTFY_AUTH_LINK)
    now = int(time.time())
    body: dict[str, Any] = {
        "id": secrets.token_urlsafe(9)[:12],
        "time": now,
        "expires": now + NTFY_CACHE_SECONDS,
        "event": "message",
        "topic": topic,
        "message": message or "triggered",
    }
    if title:
        body["title"] = title
    if priority:
        body["priority"] = int(priority) if priority.isdigit() else 3
    if tags:
        body["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    return 200, body


async def webhook(request: web.Request, state: MessengersState, raw: str) -> Answer:
    """A receiver of our own signed webhooks: accepts anything and keeps it to be read back."""
    return 200, {"received": True}


def _handler(service: str, produce: Service) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        raw = (await request.read()).decode("utf-8", errors="replace")
        status, body = await produce(request, request.app[STATE_KEY], raw)
        return _answer(status, body)

    handle.service = service  # type: ignore[attr-defined]  # read by _recording
    return handle


@web.middleware
async def _recording(request: web.Request, handler: Any) -> web.StreamResponse:
    """Keep every request to a service with the status it got — also those an injected
    fault answered (this runs outside the fault middleware), so a test can read the
    headers of each retry, not only of the accepted one."""
    response = await handler(request)
    service = getattr(request.match_info.handler, "service", None)
    if service is not None:
        raw = (await request.read()).decode("utf-8", errors="replace")
        headers = {k: v for k, v in request.headers.items() if k.lower() in _KEPT_HEADERS}
        headers.update(
            {k: v for k, v in request.headers.items() if k.lower().startswith("x-cryptotrack-")}
        )
        request.app[STATE_KEY].record(
            Received(service, request.path, headers, raw, response.status)
        )
    return response


def build_app(
    state: MessengersState,
    *,
    injector: FaultInjector | None = None,
    counter: RequestCounter | None = None,
) -> web.Application:
    injector = injector or FaultInjector()
    counter = counter or RequestCounter()
    app = web.Application(middlewares=[_recording, counter.middleware(), injector.middleware()])
    app[STATE_KEY] = state
    router = app.router
    router.add_route("*", "/bot{token}/{method}", _handler("telegram", telegram))
    router.add_post("/api/webhooks/{id}/{token}", _handler("discord", discord))
    router.add_post("/services/{team}/{bot}/{secret}", _handler("slack", slack))
    router.add_post("/webhooks/{name}", _handler("webhook", webhook))
    router.add_post("/", _handler("ntfy", ntfy))
    router.add_route("POST", "/{topic}", _handler("ntfy", ntfy))
    router.add_route("PUT", "/{topic}", _handler("ntfy", ntfy))
    _add_control_routes(app, state, injector, counter)
    return app


def _add_control_routes(
    app: web.Application, state: MessengersState, injector: FaultInjector, counter: RequestCounter
) -> None:
    p = CONTROL_PREFIX

    def messages(body: dict[str, Any], request: web.Request) -> Any:
        return [m.to_json() for m in state.messages(body.get("service"))]

    def reset(body: dict[str, Any], request: web.Request) -> Any:
        state.reset()
        injector.clear()
        counter.reset()

    def config(body: dict[str, Any], request: web.Request) -> Any:
        return state.configure(body) if request.method == "POST" else state.config()

    app.router.add_get(f"{p}/health", json_handler(lambda body, request: {"status": "ok"}))
    app.router.add_get(f"{p}/messages", json_handler(messages))
    app.router.add_post(f"{p}/reset", json_handler(reset))
    app.router.add_get(f"{p}/config", json_handler(config))
    app.router.add_post(f"{p}/config", json_handler(config))
    add_fault_routes(app, injector, prefix=p)
