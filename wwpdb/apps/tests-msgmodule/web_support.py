"""Shared by the web service tests (not tests itself): a configured site on a stage, seeded; a WSGI client."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import TEST_DATA, stage_config
from webob import Request

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.webapp.sessions import SessionFolders
from wwpdb.apps.msgmodule.webapp.wsgi import MessagingWsgiApp

DEP = "D_1000000201"
OTHER = "D_1000000202"
FRONT_END = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "onedep-webfe-msgmodule"
SITE_JS = FRONT_END.parent / "onedep-site-js"
CONTENT_TYPES = ("messages-to-depositor", "messages-from-depositor", "notes-from-annotator")
WRITES_CIF = {"cif-only", "shadow", "dual-write", "db-primary"}
WRITES_DB = {"shadow", "dual-write", "db-primary", "db-only"}
STAGES = ["cif-only", "shadow", "dual-write", "db-primary", "db-only"]
# The seeded deposition: (content type, subject, sender, GMT time).
SEEDED = [
    ("messages-to-depositor", "Validation report ready", "CS", "2024-01-10 09:00:00"),
    ("messages-from-depositor", "Question about ligand", "depositor@example.org", "2024-01-11 09:00:00"),
    ("messages-to-depositor", "Answer about ligand", "CS", "2024-01-12 09:00:00"),
    ("messages-from-depositor", "Release request", "depositor@example.org", "2024-01-13 09:00:00"),
    ("notes-from-annotator", "Internal note on chirality", "CS", "2024-01-14 09:00:00"),
]


@dataclass
class WebSite:
    """A site on one stage: its settings, its stores as the stage writes them, and the service's WSGI app."""

    stage: str
    config: dict[str, str]
    archive: Path
    app: MessagingWsgiApp
    ids: dict[str, str]

    @property
    def cif(self) -> CifMessageStore | None:
        return CifMessageStore(self.archive) if self.stage in WRITES_CIF else None

    @property
    def db(self) -> DbMessageStore | None:
        return DbMessageStore(self.config["MSGDB_URL"]) if self.stage in WRITES_DB else None

    def stores(self) -> list[Any]:
        return [store for store in (self.cif, self.db) if store is not None]

    def snapshot(self, deposition: str = DEP) -> list[Any]:
        """Everything every written store holds for the deposition, and the session folders' files."""
        found: list[Any] = []
        for store in self.stores():
            for content_type in CONTENT_TYPES:
                document = store.load(deposition, content_type)
                found.append(
                    (
                        [m.as_dict() for m in document.messages],
                        [r.as_dict() for r in document.file_references],
                        [s.as_dict() for s in document.statuses],
                    )
                )
        sessions = Path(self.config["MSGMODULE_SESSIONS_DIR"])
        found.append(sorted(str(p.relative_to(sessions)) for p in sessions.rglob("*")) if sessions.exists() else [])
        return found

    def request(self, path: str, method: str = "POST", **params: Any) -> Any:
        if method == "GET":
            query = "&".join(f"{k}={v}" for k, v in params.items())
            request = Request.blank(f"/service/messaging/{path}" + (f"?{query}" if query else ""))
        else:
            request = Request.blank(f"/service/messaging/{path}", POST=params)
        return request.get_response(self.app)

    def new_session(self) -> str:
        """A session as the launch page starts one (without needing the front end's pages)."""
        return SessionFolders(self.config["MSGMODULE_SESSIONS_DIR"]).create().session_id

    def launch(self, deposition: str = DEP, **params: Any) -> str:
        """Open the messaging page as WFM's link does; the session id it starts."""
        response = self.request(
            "new_session/wf",
            "GET",
            identifier=deposition,
            filesource="archive",
            annotator="CS",
            expmethod="X-RAY%20DIFFRACTION",
            **params,
        )
        assert response.status_int == 200, response.text
        found = re.search(r"var SESSION_ID = '([^']*)'", response.text)
        assert found is not None
        return found.group(1)

    def call(self, path: str, session: str, deposition: str = DEP, **params: Any) -> tuple[int, dict[str, Any]]:
        response = self.request(path, **{"sessionid": session, "identifier": deposition, **params})
        assert response.content_type == "application/json", response.text
        return response.status_int, json.loads(response.text)


def make_web_site(tmp_path: Path, stage: str, db_url: str, **extra: str) -> WebSite:
    schema_versions.upgrade(db_url)  # the db_url fixture's is already; a plain SQLite URL's not yet
    config = stage_config(
        tmp_path,
        stage,
        db_url,
        MSGMODULE_SESSIONS_DIR=str(tmp_path / "sessions"),
        MSGMODULE_WEB_TEMPLATE_DIR=str(FRONT_END),
        **extra,
    )
    archive = tmp_path / "archive"
    for deposition in (DEP, OTHER):
        folder = archive / deposition
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEST_DATA / "messaging-io" / "model.cif", folder / f"{deposition}_model_P1.cif.V1")
    service = create_messaging_service(config=config)
    ids: dict[str, str] = {}
    for content_type, subject, sender, when in SEEDED:
        ids[subject] = service.set(
            DEP,
            {
                "sender": sender,
                "message_subject": subject,
                "message_text": f"Text of {subject}\nsecond line",
                "timestamp": when,
            },
            content_type,
        )
    return WebSite(stage, config, archive, MessagingWsgiApp(config=config), ids)
