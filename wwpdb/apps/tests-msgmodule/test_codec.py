"""The text conventions of OneDep files: character references, \\u escapes, ' ;'."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "typed",
    ["Use &#197; for Å", r"path C:\data\u00e9t", r"&#92;u0041", "&#x41;", r"\ud83d\ude00 as text", "&&##;"],
)
def test_text_that_looks_like_a_reference_or_an_escape_reads_back_as_typed(typed):
    assert decode_text(encode_text(typed)) == typed


def test_a_file_reference_to_a_backslash_is_decoded_once():
    assert decode_text(r"&#92;u0041") == r"\u0041"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("&#;xX0123456789abcdefABCDEF\\uUd \n;é😀")), max_size=40) | st.text())
def test_encode_then_decode_is_the_identity_for_any_text(text):
    assert decode_text(encode_text(text)) == text
