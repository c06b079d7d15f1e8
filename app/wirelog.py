"""What the libraries that read the wire log about a client's malformed input.

aiohttp's HTTP parser, python-engineio and python-socketio log a traceback at ERROR for
each request or packet they cannot decode (Engine.IO's logger even twice, through a handler
of its own). Those come from clients, not from a fault of ours, and any client could fill
the log with them. The filter here turns each into one WARNING line, naming the socket
where there is one, and lets at most `per_minute` of them through.

Only records known to be about a client's input are changed: aiohttp's parser errors, the
libraries' messages for a packet or request they could not handle (when the traceback does
not run through our code: a failure of our connect handler keeps its traceback), their
once-per-kind request errors ("Invalid session ..."), and what sockets/transport.py logs
about frames it skips. Everything else (a Redis outage, a failing handler) passes as it
was logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from aiohttp.http_exceptions import HttpProcessingError

# The Engine.IO session a request or packet belongs to, for the log line: set by
# sockets/transport.py when it knows it.
socket_id: ContextVar[str | None] = ContextVar("socket_id", default=None)

# Loggers whose records about a client's input are turned into one line. The Engine.IO and
# Socket.IO ones are handed to the server (sockets/server.py), so the libraries add no
# handler of their own; aiohttp's parser errors go to "aiohttp.server".
ENGINEIO_LOGGER = "engineio.server"
SOCKETIO_LOGGER = "socketio.server"
HTTP_PARSER_LOGGER = "aiohttp.server"
TRANSPORT_LOGGER = "app.sockets.transport"  # only ever logs about frames a client sent

# The libraries' messages when a packet or request from a client failed in their code.
_CLIENT_FAILURES = frozenset({"message async handler error", "post request handler error",
                              "Unknown receive error"})
# python-engineio's _log_error_once ends each of its (client-caused) request errors so.
_ONCE_SUFFIX = "(further occurrences of this error will be logged with level INFO)"

PER_MINUTE = 30
LINE_MAX = 300
_APP_DIR = str(Path(__file__).resolve().parent)


class ClientInputError(ValueError):
    """Raised by our own code on the wire path (sockets/transport.py) for input it refuses:
    always a client's doing, though the traceback runs through app/."""


class ClientNoise(logging.Filter):
    """One WARNING line, at most `per_minute` a minute, for each record about a client's
    malformed input; other records pass unchanged."""

    def __init__(self, per_minute: int = PER_MINUTE, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.per_minute = per_minute
        self.clock = clock
        self.window_start = clock()
        self.passed = 0
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_client_noise(record):
            return True
        now = self.clock()
        if now - self.window_start >= 60:
            self.window_start, self.passed = now, 0
        if self.passed >= self.per_minute:
            self.suppressed += 1
            return False
        self.passed += 1
        _one_line(record, self.suppressed)
        self.suppressed = 0
        return True


def is_client_noise(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    if record.name == HTTP_PARSER_LOGGER:
        # aiohttp has answered 400 already; other records of this logger are our 500s.
        return isinstance(error, HttpProcessingError)
    if record.name == TRANSPORT_LOGGER:
        return True
    if not isinstance(record.msg, str):
        return False
    if record.msg in _CLIENT_FAILURES:
        return error is None or isinstance(error, ClientInputError) or not _through_our_code(error)
    return error is None and record.msg.endswith(_ONCE_SUFFIX)


def _through_our_code(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_APP_DIR):
            return True
        tb = tb.tb_next
    return False


def _one_line(record: logging.LogRecord, suppressed: int) -> None:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text = f"{text}: {type(error).__name__}: {error}"
    sid = socket_id.get()
    if sid:
        text = f"{text} (socket {sid})"
    text = " ".join(text.split())[:LINE_MAX]
    if suppressed:
        text = f"{text} ({suppressed} more like it were not logged)"
    record.msg, record.args = "client input refused: %s", (text,)
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    record.exc_info = record.exc_text = record.stack_info = None


# One for the process: the rate limit holds across every logger it is attached to.
NOISE = ClientNoise()


def library_logger(name: str, *, level: int | None = None) -> logging.Logger:
    """The named library logger with the one process-wide filter attached (once)."""
    logger = logging.getLogger(name)
    if NOISE not in logger.filters:
        logger.addFilter(NOISE)
    if level is not None:
        logger.setLevel(level)
    return logger
