"""Logging: one structlog processor chain, with the secret scrubber in it, for every log line.

This module is where logging's global state lives: ``configure_logging`` is called once by the CLI
(tests may call it again). The chain is::

    merge_contextvars (run_id, unit, cluster) → level → ISO timestamp → stack/exception to text
        → scrub every value → render (JSON or console) → scrub the rendered line once more

Exceptions are formatted to text *before* scrubbing: a traceback quotes the arguments and messages
that carried a passphrase. The second scrub catches values hidden inside objects that only the
renderer turns into text. Standard-library loggers (aiohttp, asyncio) and uncaught exceptions go
through the same scrubber.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from fleet.secrets.scrub import SCRUBBER, Scrubber

LogFormat = Literal["json", "console", "auto"]
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_HANDLER_NAME = "fleet"


def scrub_processor(scrubber: Scrubber = SCRUBBER) -> Processor:
    """A processor that scrubs every key and value of the event (nested dicts and lists too)."""

    def scrub(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
        scrubbed: EventDict = scrubber.scrub_obj(event)
        return scrubbed

    return scrub


def scrubbed_renderer(renderer: Processor, scrubber: Scrubber = SCRUBBER) -> Processor:
    """``renderer`` whose output line is scrubbed again (objects rendered through their ``repr``)."""

    def render(logger: WrappedLogger, method: str, event: EventDict) -> Any:
        line = renderer(logger, method, event)
        return scrubber.scrub(line) if isinstance(line, str) else line

    return render


def _pre_chain() -> list[Processor]:
    """Steps shared by structlog events and stdlib records, up to the scrubbing."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        scrub_processor(),
    ]


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    if fmt == "json" or (fmt == "auto" and not is_tty):
        return scrubbed_renderer(structlog.processors.JSONRenderer())
    return scrubbed_renderer(structlog.dev.ConsoleRenderer(colors=is_tty))


def configure_logging(*, fmt: LogFormat = "auto", level: str = "info", stream: TextIO = sys.stderr) -> None:
    """Route structlog, stdlib logging and uncaught exceptions through one scrubbed chain to ``stream``."""
    if level.lower() not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}")
    numeric = _LEVELS[level.lower()]
    renderer = _renderer(fmt, stream)
    structlog.configure(
        processors=[*_pre_chain(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    _bridge_stdlib(renderer, numeric, stream)
    _install_excepthooks(stream)


def get_logger(name: str) -> Any:
    """A structlog logger that tags its events with ``logger=name``."""
    return structlog.get_logger(name).bind(logger=name)


def _bridge_stdlib(renderer: Processor, level: int, stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_pre_chain()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def scrubbed_traceback(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, scrubber: Scrubber = SCRUBBER
) -> str:
    """The usual traceback text, with every registered secret value removed."""
    return scrubber.scrub("".join(traceback.format_exception(exc_type, exc, tb)))


def _install_excepthooks(stream: TextIO) -> None:
    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        stream.write(scrubbed_traceback(exc_type, exc, tb))
        stream.flush()

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread else "?"
        stream.write(f"Exception in thread {name}:\n")
        excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


__all__ = [
    "LogFormat",
    "configure_logging",
    "get_logger",
    "scrub_processor",
    "scrubbed_renderer",
    "scrubbed_traceback",
]
