"""Model-file data for message templates (`getMsgTmpltDataItems`).

`ModelDataProvider` is the interface: `facts(deposition_id)` says what the
deposition's model file holds (ids, title, authors, contact authors, status,
citation, EM and obsoletion details). `ArchiveModelData`, the default, reads
the deposition's current model mmCIF (`<DEPID>_model_P1.cif.V<n>`) from the
archive with gemmi, once per deposition. `template_values` turns facts into
the dictionary of values OneDep's templates use, under OneDep's key names and
with its placeholders (`[NOT AVAILABLE]`, `[PDBID NOT AVAIL]`, ...) for what
is missing. Sites that also know contacts from elsewhere (OneDep adds the
deposition system's validated contacts) subclass the provider.
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import gemmi

from ..errors import MessagingError
from .attachments import FORMAT_EXTENSIONS, ArchiveAttachments
from .templates import NOT_AVAILABLE, MessageTemplates

log = logging.getLogger(__name__)

PDB_ID_MISSING = "[PDBID NOT AVAIL]"
EM_METHODS = ("ELECTRON MICROSCOPY", "ELECTRON CRYSTALLOGRAPHY")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class ModelFacts:
    """What a deposition's model file says; None or empty where it says nothing."""

    pdb_id: str | None = None
    pdb_ext_id: str | None = None
    emdb_id: str | None = None
    requested_accessions: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    title: str | None = None
    em_title: str | None = None
    entry_authors: list[str] = field(default_factory=list)
    em_authors: list[str] = field(default_factory=list)
    contact_authors: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # email, role, last name
    status: dict[str, str | None] | None = None  # _pdbx_database_status items
    em_admin: dict[str, str | None] | None = None
    em_depui: dict[str, str | None] | None = None
    citation: dict[str, str | None] | None = None  # the primary citation
    citation_authors: list[str] = field(default_factory=list)
    obsoleted: dict[str, str | None] | None = None  # the OBSLTE row of _pdbx_database_PDB_obs_spr
    supersedes: str | None = None  # replace_pdb_id of the SPRSDE row
    em_supersede: dict[str, str | None] | None = None
    annotator: str | None = None  # _pdbx_database_status.pdbx_annotator

    @property
    def pdb_format_compatible(self) -> bool:
        """False only when the model says it cannot be written in PDB format."""
        return (self.status or {}).get("pdb_format_compatible", "") not in ("N", "n")


class ModelDataProvider(ABC):
    """Where template data about a deposition comes from."""

    @abstractmethod
    def facts(self, deposition_id: str) -> ModelFacts:
        """What the deposition's model file says (empty facts when it has none)."""

    def prepare(self, deposition_id: str) -> None:
        """Read ahead what `facts` will need (OneDep's `initializeDataStore`)."""
        self.facts(deposition_id)


def _rows(block: gemmi.cif.Block, category: str) -> list[dict[str, str | None]]:
    table = block.get_mmcif_category(f"_{category}.")
    if not table:
        return []
    names = list(table)
    count = len(table[names[0]]) if names else 0
    rows = []
    for index in range(count):
        row: dict[str, str | None] = {}
        for name in names:
            value = table[name][index]
            row[name.lower()] = value if isinstance(value, str) else None  # None: '?', False: '.'
        rows.append(row)
    return rows


def facts_of_block(block: gemmi.cif.Block) -> ModelFacts:
    """ModelFacts from a model file's data block."""
    facts = ModelFacts()
    for row in _rows(block, "database_2"):
        database = (row.get("database_id") or "").upper()
        if database == "PDB":
            facts.pdb_id, facts.pdb_ext_id = row.get("database_code"), row.get("pdbx_database_accession")
        elif database == "EMDB":
            facts.emdb_id = row.get("database_code")
    for row in _rows(block, "pdbx_depui_entry_details"):
        requested = (row.get("requested_accession_types") or "").split(",")
        facts.requested_accessions = [kind.strip() for kind in requested if kind.strip()]
    facts.methods = [(row.get("method") or "").upper() for row in _rows(block, "exptl")]
    for row in _rows(block, "struct"):
        facts.title = row.get("title")
    for row in _rows(block, "em_admin"):
        facts.em_admin = row
        facts.em_title = row.get("title")
    facts.entry_authors = [name for row in _rows(block, "audit_author") if (name := row.get("name"))]
    facts.em_authors = [name for row in _rows(block, "em_author_list") if (name := row.get("author"))]
    seen: set[str] = set()
    for row in _rows(block, "pdbx_contact_author"):
        email = (row.get("email") or "").strip()
        if len(email) > 7 and _EMAIL.fullmatch(email) and email not in seen:
            seen.add(email)
            facts.contact_authors.append((email, row.get("role"), row.get("name_last")))
    for row in _rows(block, "pdbx_database_status"):
        facts.status = row
        facts.annotator = row.get("pdbx_annotator")
    for row in _rows(block, "em_depui"):
        facts.em_depui = row
    for row in _rows(block, "citation"):
        if (row.get("id") or "").lower() == "primary":
            facts.citation = row
    facts.citation_authors = [
        name
        for row in _rows(block, "citation_author")
        if (name := row.get("name")) and (row.get("citation_id") or "").lower() == "primary"
    ]
    for row in _rows(block, "pdbx_database_pdb_obs_spr"):
        kind = (row.get("id") or "").upper()
        if kind == "OBSLTE":
            facts.obsoleted = row
        elif kind == "SPRSDE":
            facts.supersedes = row.get("replace_pdb_id")
    for row in _rows(block, "em_supersede"):
        facts.em_supersede = row
    return facts


class ArchiveModelData(ModelDataProvider):
    """Facts from the current model mmCIF in the archive, read with gemmi and kept per deposition."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.archive = ArchiveAttachments(root)
        self._facts: dict[str, ModelFacts] = {}

    def model_file(self, deposition_id: str) -> Path | None:
        return self.archive.latest(deposition_id, "model", "pdbx")

    def facts(self, deposition_id: str) -> ModelFacts:
        if deposition_id not in self._facts:
            path = self.model_file(deposition_id)
            if path is None:
                self._facts[deposition_id] = ModelFacts()
            else:
                try:
                    document = gemmi.cif.read(str(path))
                except (RuntimeError, ValueError) as exc:
                    raise MessagingError(f"cannot read the model file {path}: {exc}") from exc
                self._facts[deposition_id] = facts_of_block(document[0]) if len(document) else ModelFacts()
        return self._facts[deposition_id]


# -- template values ------------------------------------------------------------------------------


def date_to_display(value: str | None) -> str:
    """`YYYY-MM-DD` as `8 October 2018`; a null as [UNKNOWN]; anything else as it is."""
    if value in (None, ".", "?"):
        return "[UNKNOWN]"
    try:
        return _display(datetime.strptime(str(value), "%Y-%m-%d").date())
    except ValueError:
        return str(value)


def _display(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _given(value: Any) -> bool:
    return value is not None and value not in ("", "?", ".")


def _or(value: Any, default: str = NOT_AVAILABLE) -> Any:
    return value if _given(value) else default


def _one_year_after(value: str | None) -> str:
    try:
        day = datetime.strptime(str(value), "%Y-%m-%d").date()
    except ValueError:
        return "[NO DATE AVAIL]"
    if day.month == 2 and day.day == 29:
        return _display(day.replace(year=day.year + 1, month=3, day=1))
    return _display(day.replace(year=day.year + 1))


def release_wednesday(today: date) -> date:
    """The coming release day: the Wednesday after the next Sunday (a weekend counts as the next week)."""
    day = today
    if day.weekday() >= 5:
        day += timedelta(days=7 - day.weekday())
    while day.weekday() != 6:
        day += timedelta(days=1)
    return day + timedelta(days=3)


@dataclass
class TemplateContext:
    """What template values depend on besides the model file."""

    deposition_id: str
    em_deposition: bool = False
    now: datetime = field(default_factory=datetime.now)
    annotator_name: str = ""  # the annotator's full name for closings
    last_report_date: str | None = None  # when validation reports were last sent, displayed
    last_unlock_date: str | None = None  # YYYY-MM-DD of the last "System Unlocked" message


def template_values(facts: ModelFacts, context: TemplateContext, templates: MessageTemplates) -> dict[str, Any]:
    """The values OneDep's message templates use, under its key names."""
    values: dict[str, Any] = {"identifier": context.deposition_id}
    em = context.em_deposition or any(method in EM_METHODS for method in facts.methods)
    requested = list(facts.requested_accessions) or ["PDB"]
    em_map = em and "EMDB" in requested
    em_model = em and "PDB" in requested
    map_only, model_only, map_and_model = em_map and not em_model, em_model and not em_map, em_map and em_model
    accessions = [a for a in requested if not (a == "BMRB" and "PDB" in requested)]

    values["pdb_id"] = _or(facts.pdb_id, PDB_ID_MISSING)
    values["pdb_ext_id"] = _or(facts.pdb_ext_id, "[PDBEXTID NOT AVAIL]")
    values["emdb_id"] = _or(facts.emdb_id, "[EMDBID NOT AVAIL]")
    names = (
        {
            "PDB": "PDB entry %(pdb_ext_id)s (PDB ID %(pdb_id)s)",
            "EMDB": "EMDB entry ID %(emdb_id)s",
            "BMRB": "PDB entry ID %(pdb_id)s",
        }
        if em
        else {"PDB": "%(pdb_ext_id)s (PDB ID %(pdb_id)s)", "EMDB": "EMDB ID %(emdb_id)s", "BMRB": "PDB ID %(pdb_id)s"}
    )

    def accession_text(kinds: list[str]) -> str:
        return " and ".join(names[kind] % values for kind in kinds if kind in names)

    values["accession_ids"] = accession_text(accessions)
    values["contact_authors_list"] = list(facts.contact_authors)
    values["entry_authors_list"] = list(facts.entry_authors)
    values["entry_authors_newline_list"] = "\n".join(facts.entry_authors) or NOT_AVAILABLE
    values["entry_authors_csv_list"] = ", ".join(facts.entry_authors) or NOT_AVAILABLE
    values["title"] = _or(facts.title)

    status = facts.status or {}
    code = (status.get("status_code") or "").upper()
    hold = status.get("date_hold_coordinates")
    hold_display = date_to_display(hold) if _given(hold) else "[none listed]"
    author_code = status.get("author_release_status_code") or ""
    if facts.status is None:
        entry_status, expire = None, None
    else:
        entry_status = {"HPUB": "Hold for publication", "HOLD": f"Hold until {hold_display}"}.get(
            code, "[entry status placeholder]" if code else "[none listed]"
        )
        code = code or "[none listed]"
        if author_code.upper() == "HOLD":
            expire = hold_display
        elif author_code.upper() in ("HPUB", "REL") and _given(status.get("recvd_initial_deposition_date")):
            expire = _one_year_after(status.get("recvd_initial_deposition_date"))
        else:
            expire = "[NO DATE AVAIL]"
    values["status_code"] = _or(code or None)
    values["entry_status"] = _or(entry_status)
    values["auth_rel_status_code"] = _or(author_code or None)
    map_hold = (facts.em_depui or {}).get("depositor_hold_instructions") if map_only else None
    values["auth_rel_status_code_map"] = _or(map_hold)
    values["expire_date"] = expire
    received = status.get("recvd_initial_deposition_date")
    values["recvd_date"] = date_to_display(received) if _given(received) else NOT_AVAILABLE
    site = status.get("process_site")
    values["processing_site"] = _or(site)

    citation = facts.citation or {}
    values["citation_authors"] = ",".join(facts.citation_authors) or NOT_AVAILABLE
    values["citation_title"] = _or(citation.get("title"))
    values["citation_journal_abbrev"] = _or(citation.get("journal_abbrev"))
    volume = citation.get("journal_volume")
    values["citation_journal_volume"] = f"\nVolume:   {volume}" if _given(volume) else ""
    values["citation_page_first"] = _or(citation.get("page_first"))
    values["citation_page_last"] = f" - {citation['page_last']}" if _given(citation.get("page_last")) else ""
    values["citation_pages"] = (
        f"\nPages:   {values['citation_page_first']}{values['citation_page_last']}"
        if values["citation_page_first"] != NOT_AVAILABLE
        else ""
    )
    values["citation_year"] = f"\nYear:   {citation['year']}" if _given(citation.get("year")) else ""
    pubmed, doi = citation.get("pdbx_database_id_pubmed"), citation.get("pdbx_database_id_doi")
    values["citation_pubmedid"] = f"\nPubMed ID:   {pubmed}" if _given(pubmed) else ""
    values["citation_doi"] = f"\nDOI:   {doi}" if _given(doi) else ""

    values["default_msg_tmplt"] = _default_template(facts, map_only and em)
    values["outbound_rprt_date"] = _or(context.last_report_date)
    values["unlock_date"] = date_to_display(context.last_unlock_date) if context.last_unlock_date else "[NOT AVAILBLE]"
    _release_dates(values, context.now, templates)

    site_key = {"RCSB": "rcsb", "PDBE": "pdbe", "PDBJ": "pdbj", "PDBC": "pdbj"}.get((site or "").upper())
    values["annotator_group_signoff"] = templates.piece("signoff", values)
    values["site_contact_details"] = templates.piece(f"site-contact-{site_key}", values) if site_key else ""
    values["full_name_annotator"] = context.annotator_name
    values["doinotice"] = "" if (em and map_only) else templates.piece("doi-notice", values)

    values["em_entry"] = "true" if em else "false"
    values["maponly"] = "true" if map_only else "false"
    values["modelonly"] = "true" if model_only else "false"
    values["mapandmodel"] = "true" if map_and_model else "false"
    values["accession_ids_em_rel"] = ""
    if em:
        values["em_title"] = _or(facts.em_title if (map_only or (map_and_model and facts.em_title)) else facts.title)
        authors = facts.em_authors if map_only else facts.entry_authors
        values["em_entry_authors_newline_list"] = "\n".join(authors) or NOT_AVAILABLE
        values["status_code_em_map"] = _or(((facts.em_admin or {}).get("current_status") or "").upper() or None)
        values["accession_ids_em_rel"] = values["accession_ids"]
    _title_layout(values, em)
    values["known_file_extensions"] = ", ".join(sorted(set(FORMAT_EXTENSIONS.values())))
    values["msg_closing"] = templates.piece("closing-em-map-only" if (em and map_only) else "closing", values)
    if facts.supersedes:
        values["spr_to_replace_pdb_ids"] = facts.supersedes
    _obsoletion(values, facts, templates)
    return values


def _default_template(facts: ModelFacts, em_map_only: bool) -> str:
    """Which letter the compose window opens with, from the entry's status."""
    status = facts.status or {}
    post_release = status.get("post_rel_status")
    if em_map_only:
        code = ((facts.em_admin or {}).get("current_status") or "").upper()
    elif post_release and len(post_release) > 1:
        code = post_release.upper()
    else:
        code = (status.get("status_code") or "").upper()
    approval = (status.get("author_approval_type") or "").lower()
    citation = facts.citation or {}
    published = any(len(citation.get(item) or "") > 1 for item in ("pdbx_database_id_doi", "pdbx_database_id_pubmed"))
    if code in ("HPUB", "HOLD") and approval in ("implicit", "explicit"):
        return "approval-impl" if approval == "implicit" else "approval-expl"
    if code == "REL":
        return "release-publ" if published else "release-nopubl"
    if code == "AUTH" and em_map_only:
        return "maponly-authstatus-em"
    return {"WAIT": "reminder", "WDRN": "withdrawn"}.get(code, "vldtn")


def _release_dates(values: dict[str, Any], now: datetime, templates: MessageTemplates) -> None:
    release = release_wednesday(now.date())
    values["release_date"] = _display(release)
    values["withdrawn_date"] = values["release_date"]
    site = values["processing_site"]
    clause_values = {**values, "processing_site": site if site != NOT_AVAILABLE else "[not available]"}
    weekday = now.weekday()
    if weekday == 4 or (weekday == 3 and now.hour >= 11):  # past Thursday's cut-off for changes
        clauses = {"prerelease": "", "wdrn": "", "obs": ""}
    elif weekday != 3:
        thursday = now.date() + timedelta(days=(3 - weekday) % 7)
        clause_values["thursday"] = _display(thursday)
        clauses = {
            "prerelease": templates.piece("clause-prerelease", clause_values),
            "wdrn": templates.piece("clause-withdrawn", clause_values),
            "obs": templates.piece("clause-obsolete", clause_values),
        }
    else:
        clauses = {
            "prerelease": templates.piece("clause-prerelease-today", clause_values),
            "wdrn": templates.piece("clause-withdrawn-today", clause_values),
            "obs": templates.piece("clause-obsolete-today", clause_values),
        }
    values["thurs_prerelease_clause"] = clauses["prerelease"]
    values["thurs_wdrn_clause"] = clauses["wdrn"]
    values["thurs_wdrn_clause_em_map_only"] = clauses["wdrn"]
    values["thurs_obs_clause"] = clauses["obs"]


def _title_layout(values: dict[str, Any], em: bool) -> None:
    """A rule of '=' as long as the title; a title over 100 characters wrapped to about 85 columns."""
    title = values["title"]
    primary = values.get("em_title", title) if em else title
    length = max(len(title), len(values.get("em_title", ""))) if em else len(title)
    if length <= 100:
        values["horiz_line"] = "=" * length
        return
    width = 85
    for candidate in range(85, 65, -1):
        if len(textwrap.wrap(primary, candidate)[-1]) > 10:  # no short orphan last line
            width = candidate
            break
    values["title"] = textwrap.fill(title, width)
    if em:
        values["em_title"] = textwrap.fill(values["em_title"], width)
    values["horiz_line"] = "=" * 85


def _obsoletion(values: dict[str, Any], facts: ModelFacts, templates: MessageTemplates) -> None:
    kinds = []
    if (values.get("status_code") or "") == "OBS":
        kinds.append("PDB")
    em_code = ((facts.em_admin or {}).get("current_status") or "").upper()
    if em_code == "OBS":
        kinds.append("EMDB")
    names = {"PDB": "%(pdb_ext_id)s (PDB ID %(pdb_id)s)", "EMDB": "EMDB ID %(emdb_id)s"}
    values["obs_ids"] = " and ".join(names[kind] % values for kind in kinds)
    values["obs_id_types"] = kinds
    obsoleted = facts.obsoleted or {}
    obs_date = obsoleted.get("date")
    em_date = (facts.em_supersede or {}).get("date")
    values["obs_date"] = (
        date_to_display(obs_date)
        if _given(obs_date)
        else date_to_display(em_date)
        if _given(em_date)
        else values["release_date"]
    )
    replacement_pdb = obsoleted.get("pdb_id") if _given(obsoleted.get("pdb_id")) else None
    replacement_em = (facts.em_supersede or {}).get("entry")
    values["obs_repl_pdb"] = replacement_pdb
    replacements = [f"PDB entry {replacement_pdb}"] if replacement_pdb else []
    if _given(replacement_em):
        replacements.append(f"EMDB entry {replacement_em}")
    values["obs_repl_ids"] = (
        templates.piece("obsolete-replacement", {**values, "replacement": " / ".join(replacements)})
        if replacements
        else ""
    )
    values["obs_special"] = (
        templates.piece("obsolete-model-only", values)
        if ("PDB" in kinds and "EMDB" not in kinds and em_code == "REL")
        else ""
    )
