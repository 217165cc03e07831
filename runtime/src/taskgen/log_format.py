"""How ``taskgen worker`` writes its log: plain lines, or one JSON object per line.

The JSON form carries a record's message and, as fields of their own, the facts observers
attach to it (``extra=``): a task outcome's task, id, queue, attempt, duration and outcome.
"""

from __future__ import annotations

import datetime
import logging

import msgspec

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Attributes every LogRecord has: whatever else a record holds came from ``extra=``.
STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

_encode = msgspec.json.Encoder(enc_hook=str).encode


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        fields: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return _encode(fields).decode()


def configure(level: str, form: str) -> None:
    """Log to stderr at ``level`` in ``form`` (text or json); raises ValueError if unknown."""
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"--log-level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    if form not in FORMATS:
        raise ValueError(f"--log-format {form!r}: use text or json")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT))
    logging.basicConfig(level=number, handlers=[handler])
