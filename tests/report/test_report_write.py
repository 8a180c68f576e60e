"""Report files: atomic, readable back, and free of secret values."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from report_builders import cluster, make_run, ontap_error, partial_cluster, step

from fleet.errors import InputError
from fleet.report import build_report, default_report_path, load_report, write_report
from fleet.secrets.scrub import SCRUBBER, Scrubber


def _report():
    return build_report(make_run(), [cluster("cl-a"), partial_cluster("cl-b", {"cl-b-02": 2})])


def test_written_report_reads_back_equal(tmp_path: Path) -> None:
    report = _report()

    path = write_report(report, tmp_path / "reports" / "nested" / "run.json")

    assert load_report(path) == report
    assert json.loads(path.read_text())["schema"] == "fleet.report/v1"


def test_report_file_is_readable_by_owner_and_group_only(tmp_path: Path) -> None:
    path = write_report(_report(), tmp_path / "run.json")

    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_failed_write_leaves_previous_report_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run.json"
    target.write_text("previous report\n")

    def broken_fsync(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        write_report(_report(), target)

    assert target.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_interrupted_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(_report(), tmp_path / "run.json")

    assert list(tmp_path.iterdir()) == []


def test_secret_value_in_a_message_is_scrubbed_in_the_written_file(tmp_path: Path) -> None:
    passphrase = secrets.token_urlsafe(32)
    SCRUBBER.register(passphrase)
    leaky = cluster(
        "cl-leak",
        "failed",
        reason=f"passphrase {passphrase} rejected",
        steps=[step("rotate", "failed", ontap_error(12345678, f'"existing_passphrase": "{passphrase}"'))],
    )
    report = build_report(make_run(options={"new": passphrase}), [leaky])

    text = write_report(report, tmp_path / "run.json").read_text()

    assert passphrase not in text
    assert "***" in text
    assert load_report(tmp_path / "run.json").clusters[0].reason == "passphrase *** rejected"


def test_default_report_path_is_under_reports() -> None:
    assert default_report_path("20251129-0400-abcd") == Path("reports/20251129-0400-abcd.json")
    with pytest.raises(ValueError):
        default_report_path("../etc/passwd")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("{not json", "invalid JSON"),
        ('{"hello": "world"}', "not a fleet report"),
        ('{"schema": "fleet.report/v0"}', "unsupported report schema"),
        ('{"schema": "fleet.report/v1", "run": {}}', "not a valid fleet report"),
    ],
)
def test_loading_something_that_is_not_a_report_is_an_input_error(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)

    with pytest.raises(InputError, match=complaint) as caught:
        load_report(path)
    assert str(path) in str(caught.value)


def test_loading_a_missing_report_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such report file") as caught:
        load_report(tmp_path / "gone.json")
    assert "gone.json" in str(caught.value)


def test_a_non_ascii_secret_with_a_quote_is_scrubbed_as_pydantic_escapes_it(tmp_path: Path) -> None:
    """pydantic writes non-ASCII as is but escapes quotes and backslashes: that spelling is scrubbed too."""
    password = 'Pässwort"2024\\ünd-' + secrets.token_hex(4)
    SCRUBBER.register(password)
    failing = cluster("cl-a", "failed", reason=f"login with {password} refused")
    path = write_report(build_report(make_run(), [failing]), tmp_path / "run.json")
    text = path.read_text(encoding="utf-8")
    assert password not in text and json.dumps(password, ensure_ascii=False)[1:-1] not in text
    assert "login with *** refused" in load_report(path).clusters[0].reason


def test_a_secret_that_spells_a_number_never_breaks_the_report_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scrubbing the whole text must not mask a number or a literal outside a string."""
    scrubber = Scrubber()  # not the process-wide one: "null" must stay scrubbable only here
    monkeypatch.setattr("fleet.report.write.SCRUBBER", scrubber)
    scrubber.register("12345")
    scrubber.register("null")
    row = cluster("cl-a", "failed", reason="the password 12345 was refused", requests=12345)
    path = write_report(build_report(make_run(), [row]), tmp_path / "run.json")
    loaded = load_report(path)  # valid JSON, a valid report
    assert loaded.clusters[0].reason == "the password *** was refused"
    assert loaded.clusters[0].requests == 12345  # numbers are data, not text: left as they are
