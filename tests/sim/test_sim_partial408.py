"""65536408: a partial passphrase change answered with the other code of the seed's PATCH table (HTTPS)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from simkit import NEW_PASSPHRASE, STD_PASSPHRASE, code_of

from fleet.errors import InputError
from fleet.ontap import codes
from fleet.sim.faults import apply_faults, parse_faults
from fleet.sim.state import Fleet


async def test_partial408_changes_the_passphrase_and_leaves_nodes_stale(tapi: Any, fleet: Fleet) -> None:
    apply_faults(fleet, parse_faults("partial408=1"), 0)
    std = tapi("std")
    status, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65536408")
    assert body["error"]["message"] == codes.message_for(65536407)  # same text, other code
    truth = await std.truth()
    assert truth["passphrase_fingerprint"] == hashlib.sha256(NEW_PASSPHRASE.encode()).hexdigest()
    stale = [node for node in truth["nodes"] if node["not_restored"]]
    assert 0 < len(stale) < len(truth["nodes"])
    node = next(n for n in std.cluster.nodes if n.name == stale[0]["name"])
    _, keys = await std.get(
        f"/api/security/key-managers/{std.km_uuid}/keys/{node.uuid}/key-ids", restored="false"
    )
    assert keys["num_records"] == len(node.keys)
    assert (await std.sync(NEW_PASSPHRASE))[0] == 200  # the remedy is the same as for 65536407
    assert all(not node["not_restored"] for node in (await std.truth())["nodes"])


async def test_partial_still_answers_65536407(tapi: Any, fleet: Fleet) -> None:
    apply_faults(fleet, parse_faults("partial=1"), 0)
    assert code_of((await tapi("std").rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[1]) == "65536407"


async def test_partial_code_per_cluster_in_a_fault_file(tapi: Any, fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "faults.yml"
    path.write_text(
        "clusters:\n  std:\n    partial: [std-01]\n    partial_code: 65536408\n  old:\n    partial: true\n"
    )
    apply_faults(fleet, parse_faults(str(path)), 0)
    assert code_of((await tapi("std").rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[1]) == "65536408"
    assert code_of((await tapi("old").rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[1]) == "65536407"
    path.write_text("clusters:\n  std:\n    partial_code: 65536999\n")
    with pytest.raises(InputError):
        parse_faults(str(path))


async def test_partial_code_set_through_sim_applies_to_a_sync(tapi: Any) -> None:
    std = tapi("std")
    await std.set(faults={"partial_nodes": ["std-02"], "partial_code": 65536408})
    status, body = await std.sync(STD_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65536408")
    assert [n["name"] for n in (await std.truth())["nodes"] if n["not_restored"]] == ["std-02"]
