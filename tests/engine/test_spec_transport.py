"""The transport options of a run: ``--max-response-bytes`` and ``--allow-http``, typed, kept, applied."""

from __future__ import annotations

import pytest
from test_cli_rotate import run_fleet

from fleet.engine.spec import RunSpec
from fleet.errors import InputError
from fleet.outcomes import RunKind

MIB = 1024 * 1024


def spec(tmp_path, **given) -> RunSpec:
    return RunSpec.create(kind=RunKind.SYNC, workdir=tmp_path, inventory="inv.yml", **given)


@pytest.mark.parametrize(("typed", "size"), [("8MiB", 8 * MIB), ("8 MB", 8 * MIB), ("512k", 512 * 1024),
                                             ("65536", 65536), (2 * MIB, 2 * MIB)])  # fmt: skip
def test_the_response_limit_is_typed_as_an_admin_would_and_reaches_the_client(tmp_path, typed, size):
    made = spec(tmp_path, max_response_bytes=typed)
    assert made.max_response_bytes == size and made.http().max_response_bytes == size


def test_the_defaults_are_4_mib_and_no_plain_http(tmp_path):
    made = spec(tmp_path)
    assert made.http().max_response_bytes == 4 * MIB and made.allow_http is False


@pytest.mark.parametrize(
    ("typed", "why"),
    [("lots", "not a size"), ("1KiB", "greater than or equal to 65536"), ("2GiB", "less than or equal to")],
)
def test_a_bad_response_limit_is_an_input_error_naming_the_option(tmp_path, typed, why):
    with pytest.raises(InputError, match="--max-response-bytes") as caught:
        spec(tmp_path, max_response_bytes=typed)
    assert why in str(caught.value)


def test_both_options_are_recorded_for_resume_and_old_records_get_the_defaults(tmp_path):
    made = spec(tmp_path, max_response_bytes="8MiB", allow_http=True)
    options = made.options()
    assert options["max_response_bytes"] == 8 * MIB and options["allow_http"] is True
    assert RunSpec.from_journal("sync", options) == made
    older = {key: value for key, value in options.items() if key not in ("max_response_bytes", "allow_http")}
    reloaded = RunSpec.from_journal("sync", older)
    assert reloaded.max_response_bytes == 4 * MIB and reloaded.allow_http is False


async def test_the_cli_refuses_a_bad_limit_before_anything_else(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=2, seed=2)
    code, _, err = await run_fleet(
        "sync", "-i", str(sim.inventory), "--journal", str(tmp_path / "j.db"), "--max-response-bytes", "1KiB",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 2 and "--max-response-bytes" in err.strip().splitlines()[-1]
    assert sim.requests() == 0
