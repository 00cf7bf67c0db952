"""The text conventions of OneDep files: character references, \\u escapes, ' ;'."""

from __future__ import annotations

import pytest

from wwpdb.apps.msgmodule.codec import decode_text, encode_text

UNICODE_SAMPLES = [
    "Ångström 1.7 Å",
    "Ελληνικά: α-helix, β-strand",
    "中文 日本語 한국어",
    "emoji 😀 and 🧬",
    "first line\n;second line starts with a semicolon",
    "?",
    "plain ascii",
]


@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_encode_then_decode_returns_the_text(text):
    encoded = encode_text(text)
    assert encoded.isascii()
    assert "\n;" not in encoded
    assert decode_text(encoded) == text


def test_decode_character_references_decimal_and_hex():
    assert decode_text("1.7 &#197; &#x3B2;-lactam") == "1.7 Å β-lactam"


def test_decode_u_escapes_including_surrogate_pairs():
    assert decode_text(r"caf\u00e9 \ud83d\ude00") == "café 😀"


def test_encoded_emoji_is_one_reference_per_character():
    assert encode_text("😀") == "&#128512;"


@pytest.mark.parametrize("text", ["&#55296;", "&#99999999;", r"\ud800 alone", "&#abc;", "&amp;"])
def test_text_that_is_not_a_character_is_kept_as_written(text):
    assert decode_text(text) == text
