"""A small example set of message templates, written for this project.

Each is what a file `<name>.txt` in a site template directory holds: an
optional `Subject:` first line, then the text, with `%(key)s` placeholders
filled from `getMsgTmpltDataItems` (a key the data lacks shows as
`[NOT AVAILABLE]`; a literal percent sign is `%%`). Sites replace them with
their own letters; `write_examples(directory)` in `templates` seeds a
directory with these.
"""

from __future__ import annotations

EXAMPLE_TEMPLATES: dict[str, str] = {
    "release-publ": """Subject: Release of %(accession_ids)s
Dear %(email_to_lname)s,

%(accession_ids)s, "%(title)s", will be released on %(release_date)s together with its publication:
%(citation_authors)s, %(citation_title)s, %(citation_journal_abbrev)s%(citation_year)s%(citation_doi)s

%(thurs_prerelease_clause)s
%(doinotice)s
The files released are attached to this message.

%(msg_closing)s""",
    "release-nopubl": """Subject: Release of %(accession_ids)s
Dear %(email_to_lname)s,

%(accession_ids)s, "%(title)s", will be released on %(release_date)s. No publication is linked to it yet;
please tell us when the paper appears.

%(thurs_prerelease_clause)s
%(doinotice)s
The files released are attached to this message.

%(msg_closing)s""",
    "release-publ-em": """Subject: Release of %(accession_ids_em_rel)s
Dear %(email_to_lname)s,

%(accession_ids_em_rel)s, "%(em_title)s", will be released on %(release_date)s with its publication.

%(thurs_prerelease_clause)s

%(msg_closing)s""",
    "release-nopubl-em": """Subject: Release of %(accession_ids_em_rel)s
Dear %(email_to_lname)s,

%(accession_ids_em_rel)s, "%(em_title)s", will be released on %(release_date)s.

%(thurs_prerelease_clause)s

%(msg_closing)s""",
    "approval-impl": """Subject: Implicit Approval of Your Structure - %(accession_ids)s
Dear %(email_to_lname)s,

We sent you the processed files of %(accession_ids)s, "%(title)s", on %(outbound_rprt_date)s and have not
heard back. The entry is now considered approved as it stands, with release status %(entry_status)s.

%(msg_closing)s""",
    "approval-expl": """Subject: Explicit Approval of Your Structure - %(accession_ids)s
Dear %(email_to_lname)s,

Thank you for approving the processed files of %(accession_ids)s, "%(title)s".
Its release status is %(entry_status)s.

%(msg_closing)s""",
    "reminder": """Subject: REMINDER: Still awaiting feedback for %(accession_ids)s
Dear %(email_to_lname)s,

We are still waiting for your answer about %(accession_ids)s, "%(title)s", whose processed files we sent on
%(outbound_rprt_date)s. Without an answer the entry may be released as it is after %(expire_date)s.

%(msg_closing)s""",
    "remind-unlocked": """Subject: ARCHIVED: Please attend to your unlocked deposition session - %(accession_ids)s
Dear %(email_to_lname)s,

Your deposition session for %(accession_ids)s was unlocked on %(unlock_date)s so that you could make changes.
Please finish and submit them, or tell us that no change is needed.

%(msg_closing)s""",
    "reminder-auth-to-rel": """Subject: REMINDER: Upcoming release of %(accession_ids)s
Dear %(email_to_lname)s,

As you asked when you deposited it, %(accession_ids)s, "%(title)s", will be released soon. Please tell us
if anything should change before then.

%(msg_closing)s""",
    "obsolete": """Subject: Obsoletion of %(obs_ids)s
Dear %(email_to_lname)s,

%(obs_ids)s will be made obsolete on %(obs_date)s.
%(obs_repl_ids)s%(obs_special)s%(thurs_obs_clause)s

%(msg_closing)s""",
    "withdrawn": """Subject: Withdrawal of %(accession_ids)s
Dear %(email_to_lname)s,

%(accession_ids)s has been withdrawn on %(withdrawn_date)s.
%(thurs_wdrn_clause)s

%(msg_closing)s""",
    # Pieces that the values above are built from.
    "closing": """Yours sincerely,

%(full_name_annotator)s
%(annotator_group_signoff)s
%(site_contact_details)s""",
    "closing-em-map-only": """Yours sincerely,

%(full_name_annotator)s
%(annotator_group_signoff)s
%(site_contact_details)s""",
    "signoff": "The wwPDB biocuration team",
    "site-contact-rcsb": "RCSB PDB, deposit-help@rcsb.org",
    "site-contact-pdbe": "PDBe, deposition help desk",
    "site-contact-pdbj": "PDBj, deposition help desk",
    "doi-notice": "The DOI of your entry is https://doi.org/10.2210/pdb%(pdb_id)s/pdb\n",
    "clause-prerelease": (
        "Changes to the entry can still be made until noon at %(processing_site)s on Thursday %(thursday)s."
    ),
    "clause-prerelease-today": "Changes to the entry can still be made until noon today at %(processing_site)s.",
    "clause-withdrawn": "\nPlease tell us by noon at %(processing_site)s on Thursday %(thursday)s if this is wrong.",
    "clause-withdrawn-today": "\nPlease tell us by noon today at %(processing_site)s if this is not right.",
    "clause-obsolete": "\nPlease tell us by noon on Thursday %(thursday)s if this is not right.",
    "clause-obsolete-today": "Please tell us by noon today if this is not right.",
    "obsolete-replacement": "It will be superseded by %(replacement)s.\n",
    "obsolete-model-only": "Only the coordinates are made obsolete; the experimental data stay released.\n\n",
    # The e-mail that tells contact authors about a message in the deposition system.
    "notification": """Subject: %(comm_subject)s - DEP ID: %(dep_id)s
Dear %(email_to_lname)s,

You have a new message about deposition %(dep_id)s%(pdb_block)s%(entry_title_block)s.
Please read it, %(mention_vldtn_rprts)sand answer in the deposition system: %(dep_email_url)s

--- the message ---
%(orig_commui_msg_content)s""",
    "notification-auto-footer": """

Please do not reply to this e-mail; answer in the deposition system: %(dep_email_url)s""",
}
