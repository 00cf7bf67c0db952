"""Text conventions of OneDep message files.

Files are ASCII: non-ASCII characters are written as XML numeric character
references (`&#197;`), and a text line that would begin with `;` (which would
end a CIF text field) is written as ` ;`. Some tools wrote `\\uXXXX` escapes
instead. The API speaks Unicode; these functions convert at the file's edge.
"""

from __future__ import annotations

import re

from .errors import InvalidInputError

# What decoding turns into characters, in one pass (nothing is decoded twice): a character
# reference, a \\u escape (a UTF-16 surrogate pair written as two escapes counts as one).
_ESCAPED = re.compile(
    r"&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));"
    r"|\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})"
    r"|\\u([0-9a-fA-F]{4})",
    re.IGNORECASE,
)
# Written as references: non-ASCII, control characters other than tab and newline (a bare CR
# would read back as a line end), and the "&" of "&#" and the "\\" of "\\u", so that text
# which merely looks like a reference or an escape reads back as it was typed.
_NEEDS_REFERENCE = re.compile(r"[^\t\n\x20-\x7e]|&(?=#)|\\(?=[uU])")
# Lines starting with spaces then `;`: one more space on write, one less on read,
# so a user's own " ;" survives too.
_SEMICOLON_LINE_OUT = re.compile(r"\n( *);")
_SEMICOLON_LINE_IN = re.compile(r"\n ( *);")


def _unescape(match: re.Match[str]) -> str:
    hex_digits, decimal, high, low, single = match.groups()
    if high is not None:
        return (chr(int(high, 16)) + chr(int(low, 16))).encode("utf-16", "surrogatepass").decode("utf-16")
    code = int(single, 16) if single is not None else int(hex_digits, 16) if hex_digits else int(decimal)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0)  # not a character: keep the text as written
    return chr(code)


def decode_text(value: str) -> str:
    """File text to Unicode: ` ;` line starts, then character references and `\\uXXXX` escapes."""
    if "\n " in value:
        value = _SEMICOLON_LINE_IN.sub(r"\n\1;", value)
    if "&#" in value or "\\u" in value or "\\U" in value:
        value = _ESCAPED.sub(_unescape, value)
    return value


def _reference(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if 0xD800 <= code <= 0xDFFF:
        # A lone surrogate is no character: its reference would not read back as text.
        raise InvalidInputError(
            f"holds a lone surrogate (U+{code:04X}) at position {match.start()}, which is not Unicode text"
        )
    return f"&#{code};"


def encode_text(value: str) -> str:
    """Unicode to file text: printable ASCII with `&#NNN;` references, ` ;` for lines starting `;`.

    The exact inverse of `decode_text`: any text written reads back unchanged. Text holding
    a lone surrogate (not Unicode) raises InvalidInputError.
    """
    if _NEEDS_REFERENCE.search(value):
        value = _NEEDS_REFERENCE.sub(_reference, value)
    if ";" in value:
        value = _SEMICOLON_LINE_OUT.sub(r"\n \1;", value)
    return value
