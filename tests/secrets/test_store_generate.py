"""Generated passphrases are long, random, and free of characters that break shells and CLIs."""

from __future__ import annotations

import pytest

from fleet.secrets.generate import CHARSETS, entropy_bits, generate_passphrase
from fleet.secrets.rules import check_passphrase


def test_default_passphrase_is_accepted_in_common_criteria_mode() -> None:
    secret = generate_passphrase()
    assert len(secret.reveal()) == 64
    assert check_passphrase(secret, cc_mode=True) is None


def test_the_default_is_safe_to_type_at_a_console_and_in_a_shell() -> None:
    """No shell metacharacters ($ ! | ; { % ...), no quotes, no look-alikes (0/O/o, 1/l/I)."""
    value = "".join(generate_passphrase(256).reveal() for _ in range(20))
    assert set(value) <= set(CHARSETS["console"])
    assert not set(value) & set(" \"'`\\$!|;{}%&*()<>?#~^[]/0Oo1lI")
    assert set(value) & set("-_.+=:"), "the symbols are part of the set"
    assert entropy_bits(64, "console") >= 256


@pytest.mark.parametrize("charset", ["console", "alnum", "ascii"])
def test_every_charset_gives_64_characters_of_at_least_256_bits(charset: str) -> None:
    secret = generate_passphrase(charset=charset)
    assert set(secret.reveal()) <= set(CHARSETS[charset]) and len(secret.reveal()) == 64
    assert entropy_bits(64, charset) >= 256 and check_passphrase(secret, cc_mode=True) is None
    assert len(CHARSETS["ascii"]) == 90 and not set(CHARSETS["ascii"]) & set(" \"'`\\")


def test_passphrases_differ_every_time() -> None:
    assert len({generate_passphrase().reveal() for _ in range(100)}) == 100


@pytest.mark.parametrize("length", [32, 63, 257])
def test_lengths_outside_64_to_256_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="64–256"):
        generate_passphrase(length)


def test_generated_passphrase_does_not_print() -> None:
    secret = generate_passphrase()
    assert secret.reveal() not in f"{secret} {secret!r}"
