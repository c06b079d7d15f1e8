"""The filter that turns a library's log record about a client's malformed input into one
rate-limited WARNING line, and leaves records about our own failures alone."""

import logging
import sys

from aiohttp.http_exceptions import BadHttpMessage

from app import wirelog
from app.services.core import validate
from app.sockets import transport


def record(name: str, message: str, error: BaseException | None = None, level=logging.ERROR):
    exc_info = (type(error), error, error.__traceback__) if error else None
    return logging.LogRecord(name, level, __file__, 1, message, (), exc_info)


def raised(fn) -> BaseException:
    try:
        fn()
    except Exception:
        return sys.exc_info()[1]
    raise AssertionError("did not raise")


def test_a_library_traceback_about_client_input_becomes_one_warning_line_naming_the_socket():
    noise = wirelog.ClientNoise()
    error = raised(lambda: int("²"))  # raised in the standard library, not in app/
    entry = record(wirelog.ENGINEIO_LOGGER, "message async handler error", error)
    token = wirelog.socket_id.set("abc123")
    try:
        assert noise.filter(entry)
    finally:
        wirelog.socket_id.reset(token)
    assert entry.levelno == logging.WARNING and entry.exc_info is None
    assert entry.getMessage() == ("client input refused: message async handler error: ValueError: "
                                  "invalid literal for int() with base 10: '²' (socket abc123)")


def test_a_failure_of_our_own_code_keeps_its_error_and_traceback():
    noise = wirelog.ClientNoise()
    error = raised(lambda: validate.loads("{"))  # through app/services/core/validate.py
    entry = record(wirelog.ENGINEIO_LOGGER, "connect async handler error", error)
    assert noise.filter(entry)
    assert entry.levelno == logging.ERROR and entry.exc_info is not None
    server_error = record(wirelog.HTTP_PARSER_LOGGER, "Error handling request", RuntimeError("bug"))
    assert noise.filter(server_error) and server_error.levelno == logging.ERROR


def test_the_libraries_other_errors_pass_as_they_were_logged():
    noise = wirelog.ClientNoise()
    redis = record(wirelog.SOCKETIO_LOGGER, "Cannot receive from redis... retrying in 2 secs")
    listener = record(wirelog.SOCKETIO_LOGGER, "Unexpected Error in pubsub listening thread",
                      raised(lambda: int("x")))
    for entry in (redis, listener):
        assert noise.filter(entry) and entry.levelno == logging.ERROR
    assert listener.exc_info is not None


def test_the_once_per_kind_request_errors_of_engineio_are_client_noise():
    noise = wirelog.ClientNoise()
    entry = record(wirelog.ENGINEIO_LOGGER, "Invalid session abc (further occurrences of this error "
                                            "will be logged with level INFO)")
    assert noise.filter(entry) and entry.levelno == logging.WARNING


def test_refused_wire_input_and_aiohttp_parser_errors_are_client_noise():
    noise = wirelog.ClientNoise()
    # Raised by our own packet class (app/sockets/transport.py), but about the client's input.
    refused = raised(lambda: transport.WirePacket(encoded_packet="2[{}]"))
    assert isinstance(refused, wirelog.ClientInputError)
    ours = record(wirelog.ENGINEIO_LOGGER, "message async handler error", refused)
    parser = record(wirelog.HTTP_PARSER_LOGGER, "Error handling request", BadHttpMessage("bad header"))
    for entry in (ours, parser):
        assert noise.filter(entry) and entry.levelno == logging.WARNING and entry.exc_info is None


def test_at_most_so_many_lines_a_minute_then_a_count_of_the_rest():
    now = [0.0]
    noise = wirelog.ClientNoise(per_minute=3, clock=lambda: now[0])
    kept = [noise.filter(record(wirelog.TRANSPORT_LOGGER, f"line {i}", level=logging.WARNING)) for i in range(10)]
    assert kept == [True] * 3 + [False] * 7
    now[0] = 61.0
    entry = record(wirelog.TRANSPORT_LOGGER, "after a minute", level=logging.WARNING)
    assert noise.filter(entry)
    assert entry.getMessage().endswith("after a minute (7 more like it were not logged)")


def test_over_long_or_multi_line_messages_are_cut_to_one_short_line():
    noise = wirelog.ClientNoise()
    entry = record(wirelog.TRANSPORT_LOGGER, "a\nb " + "x" * 1000, level=logging.WARNING)
    assert noise.filter(entry)
    assert "\n" not in entry.getMessage() and len(entry.getMessage()) < wirelog.LINE_MAX + 40
