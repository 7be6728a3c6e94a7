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
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace the values of secret-looking keys in ``text`` with ``[redacted]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message (args included) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
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
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload)
