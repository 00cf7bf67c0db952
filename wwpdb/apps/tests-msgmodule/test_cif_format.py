"""Reading and writing single message files: real samples and every quirk real archives hold."""

from __future__ import annotations

import io
from pathlib import Path

import gemmi
import pytest
from conftest import EXAMPLE_ARCHIVE, TEST_DATA, split_name
from hypothesis import given, settings
from hypothesis import strategies as st
from mmcif.io.PdbxReader import PdbxReader

from wwpdb.apps.msgmodule import cifformat
from wwpdb.apps.msgmodule.cifformat import format_document, parse_file, parse_text
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.errors import CifParseError
from wwpdb.apps.msgmodule.model import CATEGORIES, Document, Message, MessageStatus

D1 = EXAMPLE_ARCHIVE / "D_1000000001"
D2 = EXAMPLE_ARCHIVE / "D_1000000002"


def load(path: Path) -> Document:
    return parse_file(path, *split_name(path))


def pdbx_reader_counts(text: str) -> dict[str, int]:
    """Row counts per category as the `mmcif` package's reader sees them (an independent parser)."""
    containers: list = []
    PdbxReader(io.StringIO(text)).read(containers)
    counts = {category.name: 0 for category in CATEGORIES}
    for container in containers:
        for category in CATEGORIES:
            obj = container.getObj(category.name)
            if obj is not None:
                counts[category.name] += obj.getRowCount()
    return counts


def assert_parses_with_both_readers(text: str, document: Document) -> None:
    """gemmi parses the text, and mmcif's PdbxReader sees the document's rows."""
    gemmi.cif.read_string(text)
    assert pdbx_reader_counts(text) == document.row_counts()


# -- the real OneDep samples ---------------------------------------------------


def test_every_sample_loads_with_the_row_counts_of_an_independent_reader(samples):
    for path in samples:
        document = load(path)
        text = path.read_text()
        expected = pdbx_reader_counts(text) if text.strip() else {c.name: 0 for c in CATEGORIES}
        assert document.row_counts() == expected, path.name


def test_known_sample_counts(samples):
    by_name = {path.name: load(path) for path in samples}
    big = by_name["D_0000265933_messages-to-depositor_P1.cif.V1"]
    assert [len(big.messages), len(big.file_references), len(big.statuses)] == [6, 37, 6]
    # Status rows of messages that live in messages-from-depositor (cross-file statuses).
    from_depositor = by_name["D_0000265933_messages-from-depositor_P1.cif.V1"]
    assert from_depositor.messages[0].message_id in {s.message_id for s in big.statuses}
    assert from_depositor.messages[0].message_id not in {m.message_id for m in big.messages}
    # The mismatched deposition id inside D_0000277853 is kept as data.
    mismatched = by_name["D_0000277853_messages-to-depositor_P1.cif.V1"]
    assert mismatched.deposition_id == "D_0000277853"
    assert {m.deposition_data_set_id for m in mismatched.messages} == {"D_9000277853"}
    # The 0-byte file and the tag/value-pairs file.
    assert by_name["D_9000277853_notes-from-annotator_P1.cif.V1"].is_empty()
    pairs = by_name["D_9000265933_messages-from-depositor_P1.cif.V1"]
    assert len(pairs.messages) == 1 and pairs.messages[0].send_status == "Y"
    # Duplicated file-reference rows survive (same message, type, format and version).
    refs = [tuple(r.values())[1:] for r in big.file_references]
    assert len(refs) - len(set(refs)) >= 6
    # The literal string None is data, and character references are decoded.
    notes = by_name["D_9000265933_notes-from-annotator_P1.cif.V1"]
    assert notes.origcomm_references[0].orig_deposition_data_set_id == "None"
    replies = by_name["D_0000277853_messages-from-depositor_P1.cif.V1"]
    assert "1.7 Å resolution" in replies.messages[1].message_text


def test_every_sample_round_trips_equivalently_and_parses_with_both_readers(samples):
    for path in samples:
        document = load(path)
        text = format_document(document)
        assert text.isascii()
        assert_parses_with_both_readers(text, document)
        again = parse_text(text, document.deposition_id, document.content_type)
        assert differences(document, again) == [], path.name
        assert again == document, path.name


# -- the project's own quirk files ------------------------------------------------


def test_example_file_quirks_survive_loading():
    doc = load(D1 / "D_1000000001_messages-to-depositor_P1.cif.V1")
    first, literal_q, orphan_reply, nones = doc.messages
    assert "1.7 Å and the ligand is β-lactam" in first.message_text
    assert "wrote é and an emoji 😀" in first.message_text
    assert "\n; this line began with a semicolon" in first.message_text
    assert "\tTab-indented line, \"double quotes\", 'single quotes' and a # hash." in first.message_text
    assert literal_q.message_subject == "?"  # quoted '?' is a value, not a null
    assert literal_q.context_value is None  # bare ? is null
    assert orphan_reply.parent_message_id == "0b7d3c0e-1111-4a55-9c01-0000000000ff"
    assert orphan_reply.send_status == "N"
    assert (nones.sender, nones.context_type, nones.context_value) == ("None", "None", None)
    assert nones.message_subject == "It's done"
    # Rows repeated verbatim, and rows differing only in content_format.
    assert [r.content_format for r in doc.file_references[:5]] == ["pdbx", "pdb", "pdf", "pdf", "pdf"]
    assert doc.file_references[6 - 1].upload_file_name == "notes for the annotator.txt"
    # Status rows of a message in another file, and of a message in no file.
    assert [s.message_id[-3:] for s in doc.statuses] == ["001", "001", "002", "099"]


def test_missing_items_read_as_null_and_empty_categories_as_no_rows():
    doc = load(D2 / "D_1000000002_messages-to-depositor_P1.cif.V10")
    assert [m.ordinal_id for m in doc.messages] == ["1", "2"]
    assert doc.messages[0].context_type is None and doc.messages[0].send_status is None
    assert doc.messages[0].deposition_data_set_id == "D_9000000002"
    assert doc.file_references == []
    assert len(doc.statuses) == 1


def test_long_recipient_list_and_pairs_form():
    doc = load(D1 / "D_1000000001_notes-from-annotator_P1.cif.V1")
    assert len(doc.origcomm_references[0].orig_recipient) > 400
    assert doc.messages[0].message_text.startswith("Received: from mail.example.org")
    assert "\tby mail.example.org" in doc.messages[0].message_text


def test_zero_byte_and_comment_only_files_are_empty_documents(tmp_path):
    assert load(D2 / "D_1000000002_messages-from-depositor_P1.cif.V1").is_empty()
    only_comments = tmp_path / "D_1_notes-from-annotator_P1.cif.V1"
    only_comments.write_text("# nothing here\n\n")
    assert load(only_comments).is_empty()


def test_unparseable_file_names_the_file_and_the_line():
    bad = TEST_DATA / "broken" / "D_1000000009" / "D_1000000009_messages-to-depositor_P1.cif.V1"
    with pytest.raises(CifParseError) as raised:
        load(bad)
    assert raised.value.path == str(bad)
    assert raised.value.line == 8
    assert str(bad) in str(raised.value) and "line 8" in str(raised.value)


TRICKY_VALUES = [
    "?",
    ".",
    "",
    " leading and trailing ",
    "tab\tinside",
    "it's",
    'say "hi"',
    "it's \"both\" ' kinds",
    "# not a comment",
    "_looks_like_a_tag",
    "loop_",
    "data_x",
    ";starts with a semicolon",
    "line one\n;line two starts with a semicolon\n ;and this one with a space",
    "ends with newline\n",
    "\nstarts with newline",
    "None",
    "x" * 5000,
    "Ελληνικά 中文 😀 Å",
    "windows\r\nline end",
]


@pytest.mark.parametrize("value", TRICKY_VALUES, ids=range(len(TRICKY_VALUES)))
@pytest.mark.parametrize("rows", [1, 2], ids=["pairs", "loop"])
def test_tricky_values_survive_a_write_and_read(value, rows):
    doc = Document("D_1", "messages-to-depositor")
    for index in range(rows):
        doc.messages.append(
            Message(str(index + 1), f"id-{index}", "D_1", message_subject=value, message_text=value, sender="s")
        )
    doc.statuses.append(MessageStatus("id-0", "D_1", "N", "N", "N"))
    text = format_document(doc)
    assert text.isascii()
    assert_parses_with_both_readers(text, doc)
    again = parse_text(text, "D_1", "messages-to-depositor")
    assert [m.message_subject for m in again.messages] == [value] * rows
    assert [m.message_text for m in again.messages] == [value] * rows


def test_multi_megabyte_text_round_trips():
    paragraph = "Residue 42 has poor density; please check.\n" * 120_000  # ~5 MB
    doc = Document("D_1", "messages-from-depositor", messages=[Message("1", "m", "D_1", message_text=paragraph)])
    again = parse_text(format_document(doc), "D_1", "messages-from-depositor")
    assert again.messages[0].message_text == paragraph


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=200), subject=st.text(max_size=40))
def test_any_unicode_text_survives_a_write_and_read(value, subject):
    doc = Document("D_1", "messages-to-depositor")
    doc.messages.append(Message("1", "a", "D_1", message_subject=subject, message_text=value))
    doc.messages.append(Message("2", "b", "D_1", message_subject=value, message_text=subject))
    text = format_document(doc)
    assert_parses_with_both_readers(text, doc)
    again = parse_text(text, "D_1", "messages-to-depositor")
    assert again == doc


def _both_ways(text: str, monkeypatch) -> tuple[Document, Document]:
    fast = parse_text(text, "D_1", "messages-to-depositor")
    with monkeypatch.context() as patch:
        patch.setattr(cifformat, "_lift_text_fields", lambda _text: None)  # the plain gemmi parse
        plain = parse_text(text, "D_1", "messages-to-depositor")
    return fast, plain


def test_lifting_text_fields_out_before_parsing_changes_no_value(monkeypatch, samples):
    files = sorted(EXAMPLE_ARCHIVE.rglob("*_P1.cif.V*")) + samples
    for path in files:
        fast, plain = _both_ways(path.read_text(), monkeypatch)
        assert fast == plain, path.name


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(max_size=80), min_size=1, max_size=4))
def test_lifting_agrees_with_plain_parsing_on_any_text(values):
    doc = Document("D_1", "messages-to-depositor")
    for index, value in enumerate(values):
        doc.messages.append(Message(str(index + 1), f"m{index}", "D_1", message_subject=value, message_text=value))
    text = format_document(doc)
    fast = parse_text(text, "D_1", "messages-to-depositor")
    original = cifformat._lift_text_fields
    try:
        cifformat._lift_text_fields = lambda _text: None
        plain = parse_text(text, "D_1", "messages-to-depositor")
    finally:
        cifformat._lift_text_fields = original
    assert fast == plain == doc


def test_text_fields_in_every_category_and_block_are_put_back_where_they_were(monkeypatch):
    """Each lifted text field is put back into its own column, however many columns and blocks follow it
    (the columns after the last text field are not searched for one)."""
    text = (
        "data_first\nloop_\n_pdbx_deposition_message_info.ordinal_id\n_pdbx_deposition_message_info.message_id\n"
        "_pdbx_deposition_message_info.message_subject\n_pdbx_deposition_message_info.message_text\n"
        "1 m1\n;subject\none\n;\n;text\none\n;\n2 m2 plain\n;text\ntwo\n;\n"
        "_pdbx_deposition_message_file_reference.ordinal_id 1\n"
        "_pdbx_deposition_message_file_reference.message_id m1\n"
        "_pdbx_deposition_message_file_reference.upload_file_name\n;a\nfile name\n;\n"
        "_pdbx_deposition_message_status.message_id m2\n_pdbx_deposition_message_status.read_status Y\n"
        "data_second\n_pdbx_deposition_message_info.ordinal_id 3\n_pdbx_deposition_message_info.message_id m3\n"
        "_pdbx_deposition_message_info.message_text\n;text\nthree\n;\n"
        "_pdbx_deposition_message_status.message_id\n;m\n3\n;\n_pdbx_deposition_message_status.read_status N\n"
    )
    fast, plain = _both_ways(text, monkeypatch)
    assert fast == plain
    assert [(m.message_subject, m.message_text) for m in fast.messages] == [
        ("subject\none", "text\none"),
        ("plain", "text\ntwo"),
        (None, "text\nthree"),
    ]
    assert [r.upload_file_name for r in fast.file_references] == ["a\nfile name"]
    assert [(s.message_id, s.read_status) for s in fast.statuses] == [("m2", "Y"), ("m\n3", "N")]


@pytest.mark.parametrize(
    ("subject", "read"), [("plain", "plain"), ("&#197;ngstr&#246;m", "\u00c5ngstr\u00f6m"), ("'\\u00c5'", "\u00c5")]
)
def test_references_in_text_fields_are_decoded_once_whether_or_not_a_plain_value_has_one(subject, read, monkeypatch):
    """A file whose references are all in text fields decodes the fields alone; one with a reference in a
    plain value too decodes every column. Either way each value is decoded once (`&#38;#65;` reads `&#65;`)."""
    text = (
        "data_messages\nloop_\n_pdbx_deposition_message_info.ordinal_id\n"
        "_pdbx_deposition_message_info.message_id\n_pdbx_deposition_message_info.message_subject\n"
        "_pdbx_deposition_message_info.message_text\n"
        f"1 m1 {subject}\n;1.7 &#197;, written &#38;#65;\n ;not a field end\n;\n"
        "2 m2 other\n;no reference\n;\n"
    )
    fast, plain = _both_ways(text, monkeypatch)
    assert fast == plain
    assert [m.message_text for m in fast.messages] == ["1.7 \u00c5, written &#65;\n;not a field end", "no reference"]
    assert fast.messages[0].message_subject == read


def test_an_error_after_a_lifted_text_field_reports_the_original_line():
    text = (
        "data_messages\nloop_\n_pdbx_deposition_message_info.ordinal_id\n"
        "_pdbx_deposition_message_info.message_text\n"
        "1\n;line one\nline two\nline three\n;\n2 'unterminated\n"
    )
    with pytest.raises(CifParseError) as raised:
        parse_text(text, "D_1", "messages-to-depositor", source="x.cif")
    assert raised.value.line == 10


def test_valid_cif_that_is_no_message_file_is_a_parse_error_not_a_crash(tmp_path):
    mixed = tmp_path / "D_1_messages-to-depositor_P1.cif.V1"
    mixed.write_text(
        "data_messages\nloop_\n_pdbx_deposition_message_info.ordinal_id\n"
        "_pdbx_deposition_message_status.message_id\n1 m1\n"
    )
    with pytest.raises(CifParseError, match="not a message file") as raised:
        parse_file(mixed, "D_1", "messages-to-depositor")
    assert raised.value.path == str(mixed)


def test_a_stray_latin1_byte_does_not_garble_the_utf8_around_it(tmp_path):
    path = tmp_path / "D_1_messages-from-depositor_P1.cif.V1"
    path.write_bytes(
        b"data_messages\n_pdbx_deposition_message_info.ordinal_id 1\n"
        b"_pdbx_deposition_message_info.sender 'J. M\xc3\xbcller'\n"
        b"_pdbx_deposition_message_info.message_text 'Resolution \xb1 1.7'\n"
    )
    message = parse_file(path, "D_1", "messages-from-depositor").messages[0]
    assert (message.sender, message.message_text) == ("J. Müller", "Resolution ± 1.7")
