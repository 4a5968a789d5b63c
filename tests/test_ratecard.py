"""The rate card: every entry sourced and typed; overrides make a new card."""

from __future__ import annotations

import pytest

from generator.errors import RateCardError
from generator.ratecard import OURS, default_card, format_value, parse_card


def test_every_entry_has_a_source_and_a_unit() -> None:
    card = default_card()
    assert len(list(card)) > 80
    for entry in card:
        assert entry.source, entry.key
        assert entry.unit, entry.key


def test_our_assumptions_are_labelled_as_ours() -> None:
    card = default_card()
    assert card.entry("overhead.offshore").source_key == OURS
    assert card.entry("overhead.offshore").is_assumption
    assert not card.entry("rate.us").is_assumption


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (8000, "usd", "$8,000"), (40, "usd/hour", "$40/h"), (800, "usd/month", "$800/month"),
    (0.15, "share", "15%"), (0.8649, "share", "86.49%"), (10_000, "draws", "10,000"), (5, "years", "5 years"),
    (1562, "usd/provider/year", "$1,562 per provider per year"), (87.5, "usd/hour", "$87.50/h"),
])
def test_values_are_shown_in_their_unit(value: float, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_overrides_make_a_new_card_and_keep_the_shipped_one() -> None:
    card = default_card()
    new = card.with_overrides({"rate.us": (150.0, "Quote from Acme")})
    assert new.value("rate.us") == 150 and card.value("rate.us") == 175
    assert new.entry("rate.us").cited == "workbook override (Quote from Acme)"
    assert new.overridden == ("rate.us",)


def test_an_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(RateCardError, match="rate card has no key 'rate.usa'; did you mean 'rate.us'\\?"):
        default_card().entry("rate.usa")


@pytest.mark.parametrize(("text", "message"), [
    ('[sources]\na = "A"\n[entries]\n"x" = { value = 1, source = "a" }\n', "entry 'x' needs a unit"),
    ('[sources]\na = "A"\n[entries]\n"x" = { value = 1, unit = "usd", source = "b" }\n', "unknown source 'b'"),
    ('[sources]\na = "A"\n[entries]\n"x" = { unit = "usd", source = "a" }\n', "needs a value and a source"),
    ('[sources]\na = "A"\n[entries]\n"x" = { value = "1", unit = "usd", source = "a" }\n', "must have a number"),
    ("[sources\n", "not valid TOML"),
])
def test_a_broken_card_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(RateCardError, match=message):
        parse_card(text)
