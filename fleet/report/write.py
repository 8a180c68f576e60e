"""Write and read report files.

Written atomically (a temp file in the same directory, fsync, rename) because a report is also written
when a run is interrupted: a reader must see the previous file or the new one, never half of one.
Every string passes the value-based secret scrubber on the way out, whatever field it sits in.
Reports, the HTML page and the Prometheus textfile are written the same way (``write_report_file``):
0640, folders fleet makes 0750, never through a link (``fleet.safe_files``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from fleet.atomic import write_atomically
from fleet.errors import InputError
from fleet.report.model import SCHEMA_ID, Report
from fleet.safe_files import SHARED, ensure_report_dir
from fleet.secrets.scrub import SCRUBBER

REPORTS_DIR = Path("reports")


def default_report_path(run_id: str) -> Path:
    """``reports/<run-id>.json``; a run id that is not a plain file name is refused."""
    if not run_id or run_id in (".", "..") or "/" in run_id or os.sep in run_id:
        raise ValueError(f"run id {run_id!r} cannot name a report file")
    return REPORTS_DIR / f"{run_id}.json"


def report_json(report: Report) -> str:
    """The report as scrubbed, indented JSON: exactly what ``write_report`` puts in the file."""
    # Serialised by pydantic-core and scrubbed as one text: at 10,000 clusters the dict-tree route
    # (model_dump, scrub every string, json.dumps with indent in pure Python) took seconds and ~100 MB.
    text = report.model_dump_json(indent=2)
    scrubbed = SCRUBBER.scrub(text)
    if scrubbed is not text:
        # A secret was found. One that also spells a number or a literal (a password "1234") would
        # leave "***" outside a string: then scrub the values one by one, which always stays JSON.
        try:
            json.loads(scrubbed)
        except ValueError:
            scrubbed = json.dumps(
                SCRUBBER.scrub_obj(report.model_dump(mode="json")), indent=2, ensure_ascii=False
            )
    return scrubbed + "\n"


def write_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write ``report`` to ``path`` atomically (see ``write_report_file``); returns the path."""
    return write_report_file(path, report_json(report))


def write_report_file(path: str | os.PathLike[str], text: str) -> Path:
    """A report-like file: atomic, 0640, its folder made 0750 or warned about if others may write there."""
    target = Path(path)
    ensure_report_dir(target.parent)
    return write_atomically(target, text, mode=SHARED.file_mode)


def load_report(path: str | os.PathLike[str]) -> Report:
    """Read a report back; anything that is not a ``fleet.report/v1`` file is an InputError (exit 2)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such report file", file=str(source)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the report: {exc.__class__.__name__}", file=str(source)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not a fleet report: invalid JSON ({exc.msg})", file=str(source)) from None
    if not isinstance(data, dict) or "schema" not in data:
        raise InputError(f"not a fleet report: no {SCHEMA_ID!r} schema id", file=str(source))
    if data["schema"] != SCHEMA_ID:
        raise InputError(
            f"unsupported report schema {data['schema']!r}; this fleet reads {SCHEMA_ID!r}", file=str(source)
        )
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(
            f"not a valid fleet report: {first['msg']} ({exc.error_count()} problem(s))",
            file=str(source),
            field=where,
        ) from None
