"""Passphrase rules checked before any request: ONTAP's lengths, printable ASCII, new ≠ current."""

from __future__ import annotations

import pytest

from fleet.secrets import Secret, check_passphrase, check_rotation_pair


@pytest.mark.parametrize(
    ("value", "cc_mode", "ok"),
    [
        ("a" * 32, False, True),
        ("a" * 31, False, False),
        ("a" * 256, False, True),
        ("a" * 257, False, False),
        ("a" * 63, True, False),
        ("a" * 64, True, True),
        ("with spaces and ~!@#$%^&*() " + "x" * 10, False, True),
        ("tab\tinside" + "x" * 30, False, False),
        ("naïve-unicode" + "x" * 30, False, False),
    ],
)
def test_passphrase_length_and_alphabet_follow_ontap(value: str, cc_mode: bool, ok: bool) -> None:
    problem = check_passphrase(Secret(value), cc_mode=cc_mode)
    assert (problem is None) is ok
    if problem:
        assert value not in problem


def test_problem_text_says_what_ontap_needs() -> None:
    assert check_passphrase(Secret("b" * 40), cc_mode=True) == (
        "passphrase has 40 characters; ONTAP needs 64–256 in Common Criteria mode"
    )


def test_new_passphrase_must_differ_from_current() -> None:
    current = Secret("c" * 40)
    assert (
        check_rotation_pair(current, Secret("c" * 40)) == "the new passphrase is the same as the current one"
    )
    assert check_rotation_pair(current, Secret("d" * 40)) is None
