"""Generated passphrases are long, random, and free of characters that break shells and CLIs."""

from __future__ import annotations

import pytest

from fleet.secrets.generate import ALPHABET, generate_passphrase
from fleet.secrets.rules import check_passphrase


def test_default_passphrase_is_accepted_in_common_criteria_mode() -> None:
    secret = generate_passphrase()
    assert len(secret.reveal()) == 64
    assert check_passphrase(secret, cc_mode=True) is None


def test_passphrase_uses_no_space_quote_or_backslash() -> None:
    value = "".join(generate_passphrase(256).reveal() for _ in range(20))
    assert set(value) <= set(ALPHABET)
    assert not set(value) & set(" \"'`\\")
    assert len(ALPHABET) == 90


def test_passphrases_differ_every_time() -> None:
    assert len({generate_passphrase().reveal() for _ in range(100)}) == 100


@pytest.mark.parametrize("length", [32, 63, 257])
def test_lengths_outside_64_to_256_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="64–256"):
        generate_passphrase(length)


def test_generated_passphrase_does_not_print() -> None:
    secret = generate_passphrase()
    assert secret.reveal() not in f"{secret} {secret!r}"
