"""Sending one push over HTTP: to a checked, pinned address, with a bounded timeout, no
redirects followed, and the answer kept small enough to log."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from cryptotrack.core.logging import redact
from cryptotrack.notify.addresses import RefusedAddress, resolve
from cryptotrack.notify.outcome import Attempt, Verdict

# Enough of an answer to read an error from; a receiver cannot make us hold more.
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "cryptotrack-notify/1"


@dataclass(frozen=True)
class Push:
    """One HTTP request to make: ``body`` as bytes, ``headers`` besides Host/User-Agent."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The receiver's answer, or (``status`` None) why there was none."""

    status: int | None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    error: str = ""

    def text(self, limit: int = 300) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")


def send(push: Push, *, http: httpx.Client, timeout: float, allow_private: bool) -> Answer:
    """POST ``push`` to its URL's checked address; never raises for the network's sake."""
    try:
        target = resolve(push.url, allow_private=allow_private)
    except RefusedAddress as exc:
        return Answer(status=None, error=f"refused: {exc}")
    headers = {"User-Agent": USER_AGENT, **push.headers, "Host": target.host_header}
    request = http.build_request(
        "POST",
        target.pinned_url,
        content=push.body,
        headers=headers,
        timeout=timeout,
        extensions={"sni_hostname": target.server_name},
    )
    try:
        response = http.send(request, stream=True, follow_redirects=False)
    except httpx.TimeoutException:
        return Answer(status=None, error=f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        # Some transport errors quote the URL, whose path may be the credential.
        return Answer(status=None, error=redact(f"{type(exc).__name__}: {exc}")[:300])
    try:
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= MAX_ANSWER_BYTES:
                break
    except httpx.HTTPError as exc:
        return Answer(status=None, error=f"answer cut: {type(exc).__name__}")
    finally:
        response.close()
    return Answer(
        status=response.status_code, headers=response.headers, body=body[:MAX_ANSWER_BYTES]
    )


def no_answer(answer: Answer) -> Attempt:
    """The attempt when no HTTP answer came: a refused address is final, the rest retried."""
    verdict = Verdict.FAILED if answer.error.startswith("refused:") else Verdict.RETRY
    return Attempt(verdict, error=answer.error)
