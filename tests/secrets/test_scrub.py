"""Value-based scrubbing: every registered value disappears, wherever and however it is quoted."""

from __future__ import annotations

import json
import random
import string

from fleet.secrets.scrub import Scrubber


def test_every_occurrence_is_replaced_and_the_longest_match_wins() -> None:
    scrubber = Scrubber()
    scrubber.register_many(["abcd1234", "abcd12345678"])
    assert scrubber.scrub("x abcd12345678 y abcd1234 z abcd1234abcd1234") == "x *** y *** z ******"


def test_values_shorter_than_four_characters_are_not_scrubbed() -> None:
    scrubber = Scrubber()
    scrubber.register("abc")
    assert scrubber.scrub("abc abcd") == "abc abcd" and len(scrubber) == 0


def test_json_and_repr_escaped_forms_are_scrubbed_too() -> None:
    scrubber = Scrubber()
    value = "pa\"ss\\word-with-quote's"
    scrubber.register(value)
    assert value not in scrubber.scrub(f"raw {value}")
    assert json.dumps(value)[1:-1] not in scrubber.scrub(json.dumps({"p": value}))
    assert repr(value)[1:-1] not in scrubber.scrub(repr({"p": value}))


def test_scrub_obj_cleans_nested_structures_and_keeps_other_types() -> None:
    scrubber = Scrubber()
    scrubber.register("nested-secret")
    data = {"a": ["x nested-secret", ("nested-secret",)], "nested-secret": {"n": 5, "b": None}}
    assert scrubber.scrub_obj(data) == {"a": ["x ***", ("***",)], "***": {"n": 5, "b": None}}


def test_scrubbing_a_line_against_twenty_thousand_secrets_is_correct() -> None:
    """A large fleet registers tens of thousands of values; a log line must still scrub exactly."""
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    values = ["".join(rng.choices(alphabet, k=rng.randint(8, 64))) for _ in range(20_000)]
    scrubber = Scrubber()
    scrubber.register_many(values)
    picked = [values[17], values[12_345], values[19_999]]
    line = f"cluster cl-0042 rejected {picked[0]} then {picked[1]}, body={{'p': '{picked[2]}'}} " + "." * 80
    scrubbed = scrubber.scrub(line)
    assert all(value not in scrubbed for value in picked)
    assert scrubbed.startswith("cluster cl-0042 rejected *** then ***, body={'p': '***'}")
    for _ in range(200):
        assert scrubber.scrub(line) == scrubbed


def test_a_large_text_is_scrubbed_exactly_like_a_short_one() -> None:
    """Big texts (reports) go through the automaton, short ones may use the scan: same answer."""
    rng = random.Random(11)
    alphabet = string.ascii_letters + string.digits + "!#%&*+-=?@^_~ é€"
    values = ["".join(rng.choices(alphabet, k=rng.randint(8, 48))) for _ in range(5_000)]
    scrubber = Scrubber()
    scrubber.register_many(values)
    lines = [
        f"ü line {i}: {values[i * 7]} and {values[i * 7][:6]} near {values[i * 7 + 1]}." for i in range(400)
    ]
    big = "\n".join(lines)
    assert len(big) > 4096
    scanned = [scrubber.scrub(line) for line in lines]  # no automaton yet: the dict scan
    assert scrubber.scrub(big).split("\n") == scanned  # builds and uses the automaton
    assert [scrubber.scrub(line) for line in lines] == scanned  # short texts now use it too
    assert all(values[i * 7] not in scrubber.scrub(big) for i in range(400))


def test_a_value_registered_after_a_large_scrub_is_scrubbed_from_the_next_texts() -> None:
    scrubber = Scrubber()
    scrubber.register("abcd1234")
    padding = "." * 5000
    assert scrubber.scrub(f"{padding} abcd1234") == f"{padding} ***"
    scrubber.register("XYZabcd1234QRS")  # a superstring of a known value: never a partial mask
    assert scrubber.scrub("a XYZabcd1234QRS b") == "a *** b"
    assert scrubber.scrub(f"{padding} XYZabcd1234QRS abcd1234") == f"{padding} *** ***"
    undecodable = "\udc80"  # what surrogateescape leaves of a byte that was not UTF-8
    assert scrubber.scrub(f"{undecodable}{padding} abcd1234 é") == f"{undecodable}{padding} *** é"


def test_prepare_builds_the_automaton_for_short_texts_too() -> None:
    scrubber = Scrubber()
    scrubber.register_many(["first-secret-value", "second-secret-value"])
    scrubber.prepare()
    assert scrubber.scrub("a first-secret-value b second-secret-value") == "a *** b ***"
    scrubber.register("third-secret-value")  # stale again: the scan still knows it
    assert scrubber.scrub("c third-secret-value") == "c ***"


def test_the_html_escaped_spelling_is_scrubbed() -> None:
    scrubber = Scrubber()
    value = "a<b>&c\"d'e-passphrase"
    scrubber.register(value)
    import html

    assert scrubber.scrub(f"<td>{html.escape(value)}</td>") == "<td>***</td>"
