"""The log chain scrubs secrets from events, nested values, tracebacks, stdlib logs and crashes."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest
import structlog

from fleet.logs import configure_logging, get_logger
from fleet.secrets import Secret

VALUE = "log-chain-secret-passphrase-9f8e7d6c5b4a"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A JSON-configured chain writing to a buffer; global logging state restored afterwards."""
    saved = (structlog.get_config(), logging.getLogger().handlers[:], logging.getLogger().level)
    hooks = (sys.excepthook, threading.excepthook)
    buffer = io.StringIO()
    configure_logging(fmt="json", stream=buffer)
    Secret(VALUE)
    yield buffer
    structlog.configure(**saved[0])
    logging.getLogger().handlers[:] = saved[1]
    logging.getLogger().setLevel(saved[2])
    sys.excepthook, threading.excepthook = hooks
    structlog.contextvars.clear_contextvars()


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_secret_in_event_and_nested_values_is_scrubbed(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(run_id="r-1", cluster="cl-0001")
    get_logger("fleet.test").info(f"sent {VALUE}", body={"onboard": {"passphrase": VALUE}}, items=[VALUE])
    assert VALUE not in stream.getvalue()
    (event,) = lines(stream)
    assert event["event"] == "sent ***" and event["body"] == {"onboard": {"passphrase": "***"}}
    assert (event["run_id"], event["cluster"], event["level"], event["logger"]) == (
        "r-1",
        "cl-0001",
        "info",
        "fleet.test",
    )
    assert str(event["timestamp"]).endswith("Z")


def test_exception_traceback_is_formatted_then_scrubbed(stream: io.StringIO) -> None:
    def fail(passphrase: str) -> None:
        raise ValueError(f"ONTAP refused {passphrase}")

    try:
        fail(VALUE)
    except ValueError:
        get_logger("fleet.test").exception("rotation failed")
    (event,) = lines(stream)
    assert "ValueError: ONTAP refused ***" in str(event["exception"]) and VALUE not in stream.getvalue()


def test_object_rendered_through_repr_is_scrubbed(stream: io.StringIO) -> None:
    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky({VALUE})"

    get_logger("fleet.test").warning("odd", thing=Leaky())
    assert VALUE not in stream.getvalue() and "Leaky(***)" in stream.getvalue()


def test_stdlib_logging_goes_through_the_scrubber(stream: io.StringIO) -> None:
    try:
        raise RuntimeError(VALUE)
    except RuntimeError:
        logging.getLogger("aiohttp.client").error("request with %s failed", VALUE, exc_info=True)
    (event,) = lines(stream)
    assert event["event"] == "request with *** failed" and event["logger"] == "aiohttp.client"
    assert "RuntimeError: ***" in str(event["exception"]) and VALUE not in stream.getvalue()


def test_level_filters_debug_by_default(stream: io.StringIO) -> None:
    get_logger("fleet.test").debug("noise")
    logging.getLogger("aiohttp").debug("noise")
    assert stream.getvalue() == ""


def test_uncaught_exception_hook_scrubs_the_traceback(stream: io.StringIO) -> None:
    try:
        raise KeyError(VALUE)
    except KeyError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert "KeyError" in stream.getvalue() and VALUE not in stream.getvalue()


def test_console_format_is_scrubbed_too(stream: io.StringIO) -> None:
    console = io.StringIO()
    configure_logging(fmt="console", stream=console)
    get_logger("fleet.test").info("hello", secret=VALUE)
    assert "hello" in console.getvalue() and VALUE not in console.getvalue()


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(fmt="json", level="chatty", stream=io.StringIO())
