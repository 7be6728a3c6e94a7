"""Log formatting and the redaction filter that keeps secrets out of every log line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Values of these keys never reach a log line, whatever shape the message takes
# ("api_secret=..", '"passphrase": ".."', "Authorization: Bearer ..").
# The names of secrets, not a secret:
_SECRET_KEYS = (
    r"(?:api[_-]?secret|api[_-]?passphrase|passphrase|password|secret|token|access|refresh"  # noqa: S105
    r"|authorization|x-api-key|kc-api-sign|kc-api-passphrase|apikey|api[_-]?key)"
)
_PATTERNS = [
    re.compile(rf"(?i)(['\"]?{_SECRET_KEYS}['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}}&]+)"),
    re.compile(r"(?i)(bearer\s+|jwt\s+)([A-Za-z0-9._\-]+)"),
    # Whatever their context: a JWT (header.payload.signature) and a personal API key.
    re.compile(r"()(eyJ[A-Za-z0-9_\-]*\.eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*)"),
    re.compile(r"()(ctk_[0-9a-f]+_[A-Za-z0-9_\-]+)"),
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace the values of secret-looking keys in ``text`` with ``[redacted]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message (args included) and its traceback through
    :func:`redact`, whatever formatter then writes it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: an exception's message (a URL
            # with a key, a token in a parse error) gets no way around the redaction.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            text = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
            payload["exception"] = redact(text)
        if record.stack_info:
            payload["stack"] = redact(record.stack_info)
        return json.dumps(payload)
