"""Check a config file without using it: every section, every key, every value.

The values are checked by the same code that reads them at run time
(`config.load_settings`), one section at a time over `[msgmodule]`, and without
the environment, so a file is judged on what it says itself.
"""

from __future__ import annotations

import configparser
import difflib
import os
from pathlib import Path

from ..config import GLOBAL_SECTION, KNOWN_KEYS, load_settings
from ..db.engine import normalise_url
from ..errors import MessagingError


def check_config_file(path: str | os.PathLike[str]) -> list[str]:
    """The problems of a config file, each naming the section and key; empty when the file is good."""
    path = Path(path)
    if not path.is_file():
        return [f"{path}: no such file"]
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        return [f"{path}: cannot be parsed: {' '.join(str(exc).split())}"]

    problems: list[str] = []
    known = {key.upper() for key in KNOWN_KEYS}
    if not parser.sections():
        problems.append(f"{path}: no sections; settings go under [{GLOBAL_SECTION}]")
    base = dict(parser.items(GLOBAL_SECTION)) if parser.has_section(GLOBAL_SECTION) else {}
    for section in parser.sections():
        values = dict(parser.items(section))
        unknown = [key for key in values if key not in known]
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; known keys: {', '.join(sorted(known))}"
            problems.append(f"{path} [{section}] {key}: unknown key{hint}")
        if unknown:
            continue
        layered = values if section == GLOBAL_SECTION else {**base, **values}
        try:
            # os.devnull: no file is read a second time; environ={}: the shell does not mask the file.
            # An archive root may come from the environment: a stand-in when the file names none.
            given = {"MSGCIF_ROOT": os.sep, **layered, "MSGMODULE_CONFIG": os.devnull}
            settings = load_settings(given, environ={})
        except (MessagingError, ValueError) as exc:
            problems.append(f"{path} [{section}]: {exc}")
            continue
        try:
            normalise_url(settings.db_url)
        except MessagingError as exc:
            key = "MSGDB_URL" if "MSGDB_URL" in layered else "MSGDB_HOST/PORT/NAME/USER/PASS"
            problems.append(f"{path} [{section}] {key}: {exc}")
    return problems
