"""OneDep's own messaging front end (v1.15) in a real browser (Debian's chromium, driven by Selenium), against
the web service on a real sample deposition in stage dual-write, working as an annotator does.

Skipped, saying why, without the front end at ../shared/reference or without chromium and chromedriver;
under CI (CI=true) a missing browser fails instead, as MSGMODULE_REQUIRE_MYSQL does for MariaDB.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from conftest import sample_files, split_name, stage_config
from web_support import CONTENT_TYPES, FRONT_END, SITE_JS

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.notify import NOTIFY_FILE
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.webapp.server import site_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
UNDER_CI = os.environ.get("CI", "").lower() == "true"
DEP, TARGET = "D_0000265933", "D_0000277853"
WAIT = 30  # seconds for the page to do what was asked


def missing_browser_reason() -> str | None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return f"no browser: {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Annotator:
    """A browser on the service, and the stores of the site it works on."""

    driver: Any
    base: str
    archive: Path
    config: dict[str, str]

    @property
    def stores(self) -> list[Any]:
        return [CifMessageStore(self.archive), DbMessageStore(self.config["MSGDB_URL"])]

    def wait(self, condition: Any, what: str) -> Any:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, WAIT, poll_frequency=0.2).until(condition, message=what)
        except TimeoutException:
            log = [entry["message"] for entry in self.driver.get_log("browser")]
            raise TimeoutException(f"{what}; the page's log: {log}; it shows: {self.rows()}") from None

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def rows(self) -> list[str]:
        """The table's rows as shown: the subject cell of each."""
        return self.js(
            "return Array.from(document.querySelectorAll('#rslts table.dataTable tbody tr.dt_row'))"
            ".map(r => r.querySelector('td').innerText.trim())"
        )

    def idle(self) -> None:
        """Wait until jQuery has no request open."""
        self.wait(lambda d: d.execute_script("return window.jQuery && jQuery.active === 0"), "the page's requests")

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait(ec.element_to_be_clickable((By.CSS_SELECTOR, selector)), f"{selector} clickable").click()

    def show(self, selector: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait(ec.visibility_of_element_located((By.CSS_SELECTOR, selector)), f"{selector} visible")

    def fill(self, element_id: str, text: str) -> None:
        """Type into a field until it holds the text (the page may still be filling it in as the dialog opens)."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        for _ in range(3):
            box = self.driver.find_element("id", element_id)
            box.clear()
            box.send_keys(text)
            try:
                WebDriverWait(self.driver, 5).until(lambda d, box=box: box.get_attribute("value") == text)
                return
            except TimeoutException:
                continue  # typed over by the page: type again
        raise AssertionError(f"{element_id} never held {text!r}")

    def open_row(self, subject: str) -> None:
        """Double-click the row with this subject: the message opens (and is marked read)."""
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        def find_row(driver: Any) -> Any:
            for row in driver.find_elements(By.CSS_SELECTOR, "#rslts table.dataTable tbody tr.dt_row"):
                if row.find_element(By.CSS_SELECTOR, "td").text.strip() == subject:
                    return row
            return False

        # The table redraws after each action (the page's own status checks): a double click on a row
        # being replaced is lost, so wait for quiet and no dialog open, and try again if nothing opened.
        for attempt in range(3):
            self.idle()
            if self.driver.find_element(By.ID, "msg_body_display").is_displayed():
                self.click("#cancel_display")  # a message still open from before: close it first
            self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, ".modal-backdrop, .modal.in"), "no dialog open")
            try:
                ActionChains(self.driver).double_click(self.wait(find_row, f"a row {subject!r}")).perform()
                self.show("#msg_body_display")
                break
            except (StaleElementReferenceException, TimeoutException):
                if attempt == 2:
                    raise
        self.idle()

    def service(self, path: str, **params: str) -> dict[str, Any]:
        """What the page's own scripts would get from the service (a POST from inside the page)."""
        return json.loads(
            self.js(
                "const f = new FormData(); for (const [k, v] of Object.entries(arguments[1])) f.append(k, v);"
                "const x = new XMLHttpRequest(); x.open('POST', arguments[0], false); x.send(f);"
                "return x.responseText;",
                f"/service/messaging/{path}",
                params,
            )
        )


@pytest.fixture
def annotator(tmp_path: Path, samples: list[Path]) -> Iterator[Annotator]:
    """The service and OneDep's front end on the samples (stage dual-write, SQLite), and a headless chromium."""
    if not FRONT_END.is_dir() or not SITE_JS.is_dir():
        pytest.skip(f"OneDep's front end or site scripts are not at {FRONT_END.parent}")
    reason = missing_browser_reason()
    if reason:
        if UNDER_CI:
            pytest.fail(f"CI requires the browser tests to run, but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    url = f"sqlite:///{tmp_path}/messaging.db"
    schema_versions.upgrade(url)
    config = stage_config(
        tmp_path,
        "dual-write",
        url,
        MSGMODULE_WEB_TEMPLATE_DIR=str(FRONT_END),
        MSGMODULE_SITE_JS_DIR=str(SITE_JS),
        MSGMODULE_SESSIONS_DIR=str(tmp_path / "sessions"),
    )
    archive = tmp_path / "archive"
    for path in sample_files():
        deposition, _ = split_name(path)
        (archive / deposition).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, archive / deposition / path.name)
    cif, db = CifMessageStore(archive), DbMessageStore(url, site_writer=SITE_WRITER)  # seeded as a migration does
    for deposition in cif.list_depositions():  # the database half of dual-write holds what the archive holds
        for content_type in CONTENT_TYPES:
            db.save(cif.load(deposition, content_type))
    server = make_server("127.0.0.1", 0, site_app(config), server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield Annotator(driver, f"http://127.0.0.1:{server.server_port}", archive, config)
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()


def shown(text: str | None) -> str:
    """A stored subject as the table shows it (white space collapsed)."""
    return re.sub(r"\s+", " ", html.unescape(text or "")).strip()


def test_browser_annotator_reads_searches_composes_tags_and_archives(annotator: Annotator):
    a = annotator
    cif = CifMessageStore(a.archive)
    stored = [
        m
        for ct in ("messages-from-depositor", "messages-to-depositor")
        for m in cif.load(DEP, ct).messages
        if (m.send_status or "Y") == "Y"
    ]
    notes = cif.load(DEP, "notes-from-annotator").messages
    a.driver.get(
        f"{a.base}/service/messaging/new_session/wf?identifier={DEP}&filesource=archive&annotator=JW"
        "&expmethod=X-RAY%20DIFFRACTION"
    )
    # The messages table lists every message.
    a.wait(lambda d: len(a.rows()) == len(stored), f"{len(stored)} rows")
    a.idle()
    assert sorted(a.rows()) == sorted(shown(m.message_subject) for m in stored)
    info = a.js("return document.querySelector('.dataTables_info').innerText")
    assert f"of {len(stored)} entries" in info
    errors = [e["message"] for e in a.driver.get_log("browser") if e["level"] == "SEVERE" and "404" not in e["message"]]
    assert errors == []

    # The search box narrows the rows.
    word = "Unlocked"
    expected = [shown(m.message_subject) for m in stored if word.lower() in (m.message_subject or "").lower()]
    assert expected
    search = a.driver.find_element("css selector", "#rslts .dataTables_filter input")
    search.send_keys(word)
    a.wait(lambda d: sorted(a.rows()) == sorted(expected), "rows narrowed by the search")
    search.clear()
    search.send_keys(" ")
    a.wait(lambda d: len(a.rows()) == len(stored), "every row back")

    # Threaded view, notes, the communication history.
    a.click("#threaded_view_toggle")
    a.wait(lambda d: "Standard" in d.find_element("id", "threaded_view_toggle").text, "threaded view")
    a.idle()
    assert sorted(a.rows()) == sorted(shown(m.message_subject) for m in stored)
    a.click("#threaded_view_toggle")
    a.idle()
    a.click("#get_content_type_notes")
    a.wait(lambda d: sorted(a.rows()) == sorted(shown(m.message_subject) for m in notes), "the notes")
    a.click("#get_content_type_commhstry")
    a.wait(lambda d: len(a.rows()) >= len(stored), "the communication history")
    a.idle()
    assert set(shown(m.message_subject) for m in stored) <= set(a.rows())

    # Compose and send a message with an attached file.
    a.click("#get_content_type_msgs")
    a.wait(lambda d: len(a.rows()) == len(stored), "the messages again")
    a.idle()
    a.click("#new_msg_menu_link")
    a.click("#cmps_default")
    a.show("#msg_compose")
    attachment = a.archive.parent / "coordinates-note.txt"
    attachment.write_text("notes for the depositor\n")
    subject = "Browser test: your coordinates Å"
    a.idle()
    a.fill("msg_compose_subject", subject)  # the default letter fills in a subject of its own
    a.fill("msg_compose_body", "Dear depositor,\nplease see the attached file.")
    a.driver.find_element("id", "aux-file1").send_keys(str(attachment))
    assert a.js("return document.getElementById('msg_compose_subject').value") == subject
    a.click("#send_compose")
    a.wait(lambda d: subject in a.rows(), "the sent message in the table")
    a.idle()
    for store in a.stores:
        document = store.load(DEP, "messages-to-depositor")
        sent = [m for m in document.messages if m.message_subject == subject]
        assert len(sent) == 1 and "please see the attached file" in (sent[0].message_text or "")
        references = [r for r in document.file_references if r.message_id == sent[0].message_id]
        assert [(r.content_type, r.upload_file_name) for r in references] == [
            ("auxiliary-file-annotate", "coordinates-note.txt")
        ]

    # Open a depositor's message (marked read), tag it for release; the global status follows.
    depositor = [m for m in cif.load(DEP, "messages-from-depositor").messages if (m.send_status or "Y") == "Y"][-1]
    a.open_row(shown(depositor.message_subject))
    a.wait(
        lambda d: all(
            any(
                s.message_id == depositor.message_id and s.read_status == "Y"
                for s in store.load(DEP, "messages-to-depositor").statuses
            )
            for store in a.stores
        ),
        "the message marked read in both stores",
    )
    a.click("#tag_display")
    a.show("#tag_msg")
    a.js("document.querySelector('#chckbx_for_release input').checked = true;")
    a.click("#tag_msg_ok")
    a.wait(
        lambda d: all(
            any(
                s.message_id == depositor.message_id and s.for_release == "Y"
                for s in store.load(DEP, "messages-to-depositor").statuses
            )
            for store in a.stores
        ),
        "the message tagged for release in both stores",
    )
    a.idle()
    session = a.js("return SESSION_ID")
    status = a.service("check_global_msg_status", sessionid=session, identifier=DEP)
    assert status["any_msgs_for_release"] == "true"
    flags = json.loads((Path(a.config["MSGMODULE_STATE_DIR"]) / NOTIFY_FILE).read_text())[DEP]["flags"]
    assert "R" in flags

    # Archive that message to another deposition.
    a.wait(lambda d: not d.find_element("id", "tag_msg").is_displayed(), "the tag dialog closed")
    a.open_row(shown(depositor.message_subject))
    a.click("#archive_display")
    a.show("#archive_msg")
    a.fill("archive_msg_target_depid", TARGET)
    a.click("#archive_msg_ok")
    archived_subject = f"ARCHIVED: {depositor.message_subject}"
    a.wait(
        lambda d: all(
            any(m.message_subject == archived_subject for m in store.load(TARGET, "notes-from-annotator").messages)
            for store in a.stores
        ),
        "the archived copy in the other deposition's notes, in both stores",
    )
