"""Logging: one structlog processor chain, with the secret scrubber in it, for every log line.

This module is where logging's global state lives: ``configure_logging`` is called once by the CLI
(tests may call it again). The chain is::

    merge_contextvars (run_id, unit, cluster) → level → ISO timestamp → stack/exception to text
        → scrub every value → render (JSON or console) → scrub the rendered line once more

Exceptions are formatted to text *before* scrubbing: a traceback quotes the arguments and messages
that carried a passphrase. The second scrub catches values hidden inside objects that only the
renderer turns into text. Standard-library loggers (aiohttp, asyncio) and uncaught exceptions go
through the same scrubber.

The console format is for a person: a line about one cluster starts with the cluster's name, and
the per-cluster stream (``cluster_started``, and ``cluster_finished`` of a cluster that went well,
both at info) is left out: the progress bar shows it, and a thousand clusters would bury the
warnings. The JSON format keeps every event.

Rendered lines go to the log stream, except while a live display (the progress bar) is drawn on
that same stream: then ``print_logs_with`` hands each line to the display's console, which prints
it above the bar instead of into it.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any, Literal, TextIO, cast

import structlog
from rich.console import Console
from rich.text import Text
from structlog.typing import EventDict, Processor, WrappedLogger

from fleet.secrets.scrub import SCRUBBER, Scrubber

LogFormat = Literal["json", "console", "auto"]
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_HANDLER_NAME = "fleet"
#: Events of the per-cluster stream that the console format leaves out at info level.
CLUSTER_STREAM = frozenset({"cluster_started", "cluster_finished"})


class LogSink:
    """Where rendered lines go: ``stream``, or the console of a live display drawn on ``stream``.

    A writer of a whole line (structlog's ``WriteLogger``, a ``logging.StreamHandler``) writes it in
    one call, so each line is printed above the display in one piece. Not an ``io`` class on
    purpose: one of those closes (and flushes) its stream when collected.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.above: Console | None = None

    def write(self, text: str) -> int:
        console = self.above
        if console is None:
            return self.stream.write(text)
        console.print(Text.from_ansi(text.rstrip("\n")), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        if self.above is None:
            self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


_sink: LogSink | None = None  # the configured chain's, once configure_logging ran


def print_logs_with(console: Console | None) -> None:
    """Print log lines with ``console`` (above its live display) from now on; None: to the stream again.

    Only a console drawing on the log stream itself takes the lines over: logs sent elsewhere (a
    file, a pipe) stay there.
    """
    if _sink is not None:
        _sink.above = console if console is not None and console.file is _sink.stream else None


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


def quiet_cluster_stream(_logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Console format: drop the per-cluster stream's info lines (the progress bar says as much)."""
    if event.get("event") in CLUSTER_STREAM and method in ("debug", "info"):
        raise structlog.DropEvent
    return event


def cluster_first(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """Console format: a line about one cluster starts with the cluster's name."""
    cluster = event.get("cluster")
    if isinstance(cluster, str):
        del event["cluster"]
        event["event"] = f"{cluster}: {event.get('event', '')}"
    return event


def _json(fmt: LogFormat, stream: TextIO) -> bool:
    return fmt == "json" or (fmt == "auto" and not (hasattr(stream, "isatty") and stream.isatty()))


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    if _json(fmt, stream):
        return scrubbed_renderer(structlog.processors.JSONRenderer())
    console = structlog.dev.ConsoleRenderer(colors=hasattr(stream, "isatty") and stream.isatty())

    def render(logger: WrappedLogger, method: str, event: EventDict) -> Any:
        return console(logger, method, cluster_first(logger, method, event))

    return scrubbed_renderer(render)


def configure_logging(*, fmt: LogFormat = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Route structlog, stdlib logging and uncaught exceptions through one scrubbed chain to ``stream``
    (default: stderr)."""
    global _sink
    if level.lower() not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}")
    numeric = _LEVELS[level.lower()]
    stream = stream if stream is not None else sys.stderr
    renderer = _renderer(fmt, stream)
    _sink = LogSink(stream)
    structlog.configure(
        processors=[*_pre_chain(), *([] if _json(fmt, stream) else [quiet_cluster_stream]), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, _sink)),
        cache_logger_on_first_use=False,
    )
    _bridge_stdlib(renderer, numeric, _sink)
    _install_excepthooks(stream)


def get_logger(name: str) -> Any:
    """A structlog logger that tags its events with ``logger=name``."""
    return structlog.get_logger(name).bind(logger=name)


def _bridge_stdlib(renderer: Processor, level: int, stream: LogSink) -> None:
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
    "CLUSTER_STREAM",
    "LogFormat",
    "LogSink",
    "cluster_first",
    "configure_logging",
    "get_logger",
    "print_logs_with",
    "quiet_cluster_stream",
    "scrub_processor",
    "scrubbed_renderer",
    "scrubbed_traceback",
]
