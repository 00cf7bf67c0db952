"""The parts of OneDep's MessagingIo that belong to a site, each pluggable with a working default.

- message templates (`autoMsg`, `getStarterMsgBody`, pieces of template data):
  `templates.MessageTemplates`; default `DirectoryTemplates`, the files of
  `MSGMODULE_TEMPLATE_DIR`, else the example set shipped here.
- model-file data (`getMsgTmpltDataItems`, `checkAvailFiles`):
  `model_data.ModelDataProvider`; default `ArchiveModelData`, the archive's
  model mmCIF read with gemmi.
- attachment files (`processMsg` tokens, `checkAvailFiles`, `getFilesRfrncd`):
  `attachments.AttachmentResolver`; default `ArchiveAttachments`, the
  archive's OneDep file naming.
- mail delivery (`processMsg`, `autoMsg`, `sendSingle`): `mail.MailDelivery`;
  default SMTP to `MSGMODULE_SMTP_HOST`, else none (logged).

- notify flags (`check_global_msg_status` of the web service):
  `notify.NotifyFlags`; default `StateFileNotifyFlags`, a small file in the
  site's state folder (`msgmodule status` shows it).
- converting an EMDB/PDB id to a deposition id (archive and forward):
  `deposition_id_of`; default `deposition_ids_only` (others refused, named).
- DepUI passwords (`get_depui_pwd`): `depui_password`; default none
  (`SiteServiceUnavailable`: "not available on this site").

Plus a few site facts OneDep reads from its site configuration: the
depositor subjects that ask for release, the depositor context types that
approve without corrections, the deposition system's URL for e-mails, and
annotators' full names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import default_state_dir
from .attachments import ArchiveAttachments, AttachmentResolver
from .mail import MailDelivery, default_mail_delivery, mail_settings
from .model_data import ArchiveModelData, ModelDataProvider
from .notify import NotifyFlags, StateFileNotifyFlags, deposition_ids_only, no_depui_password
from .templates import MessageTemplates, default_templates

# Depositor messages with these context types approve the entry without asking for corrections.
DEFAULT_APPROVAL_CONTEXT_TYPES = ("approval-without-changes", "approval-no-correction")


def _listed(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return default
    return tuple(part.strip() for part in text.split("|") if part.strip())


@dataclass
class SiteServices:
    """Everything site-specific a MessagingIo uses."""

    templates: MessageTemplates
    model_data: ModelDataProvider
    attachments: AttachmentResolver
    mail: MailDelivery
    mail_sender: str = "noreply@mail.wwpdb.org"
    mail_copies: list[str] = field(default_factory=list)
    deposition_url: str = ""  # the deposition system's address, quoted in notifications
    approval_context_types: tuple[str, ...] = DEFAULT_APPROVAL_CONTEXT_TYPES
    # (processing site, annotator initials) -> full name, for the closing of letters
    annotator_names: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # deposition id -> its group deposition id ('' when none); OneDep asks its status database
    group_of: Callable[[str], str] = lambda deposition_id: ""
    # Where check_global_msg_status records OneDep's notify flags; None: nowhere (the flags are still answered).
    notify: NotifyFlags | None = None
    # An id typed by an annotator (deposition, EMDB or PDB id) -> deposition id; raises InvalidInputError naming it.
    deposition_id_of: Callable[[str], str] = deposition_ids_only
    # deposition id -> its DepUI password; raises notify.SiteServiceUnavailable where the site has none.
    depui_password: Callable[[str], str] = no_depui_password

    @classmethod
    def defaults(
        cls,
        archive_root: str | os.PathLike[str] | None,
        environ: Mapping[str, str] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> SiteServices:
        """The defaults, configured from the environment, over the archive at `archive_root`.

        The notify flags go to `state_dir` (else MSGMODULE_STATE_DIR, else the site's state folder in the
        archive root; with neither nor an archive root, none are recorded).
        """
        env = os.environ if environ is None else environ
        root = Path(archive_root) if archive_root is not None else None
        folder = state_dir or env.get("MSGMODULE_STATE_DIR") or (default_state_dir(root) if root else None)
        sender, copies = mail_settings(env)
        return cls(
            templates=default_templates(env),
            model_data=ArchiveModelData(root),
            attachments=ArchiveAttachments(root),
            mail=default_mail_delivery(env),
            mail_sender=sender,
            mail_copies=copies,
            deposition_url=env.get("MSGMODULE_DEPOSITION_URL", ""),
            approval_context_types=_listed(env.get("MSGMODULE_APPROVAL_CONTEXT_TYPES"), DEFAULT_APPROVAL_CONTEXT_TYPES),
            notify=StateFileNotifyFlags(folder) if folder else None,
        )
