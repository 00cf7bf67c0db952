"""Generated archives shaped like real OneDep message files, for benchmarks and scale tests.

Each deposition gets what the real samples have: several long annotator
messages with dozens of file references (duplicates and pdbx/pdb pairs
included), depositor replies whose statuses live in messages-to-depositor,
archived notes with original-communication references, character
references, and now and then a 0-byte file.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from .cifformat import format_document
from .model import Document, FileReference, Message, MessageStatus, OrigCommReference
from .stores.cif import file_name

PARAGRAPH = (
    "Thank you for depositing your structure with the wwPDB. Please review the processed files and the "
    "validation report, and check the geometry of the ligands listed below.\n"
)
RESOLUTION = "The resolution reported is 1.7 \u00c5.\n"
REFERENCE_TYPES = [
    ("model-annotate", "pdbx"),
    ("model-review", "pdbx"),
    ("model-annotate", "pdb"),
    ("structure-factors-annotate", "pdbx"),
    ("validation-report-annotate", "pdf"),
    ("validation-report-full-annotate", "pdf"),
    ("validation-data-annotate", "xml"),
    ("validation-data-annotate", "pdbx"),
    ("validation-report-2fo-map-coef-annotate", "pdbx"),
    ("validation-report-fo-map-coef-annotate", "pdbx"),
]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _timestamp(rng: random.Random, day: int) -> str:
    return f"2023-{1 + day // 28 % 12:02d}-{1 + day % 28:02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:00"


def deposition_documents(deposition_id: str, seed: int) -> list[Document]:
    """The three documents of one generated deposition."""
    rng = random.Random(seed)
    to_dep = Document(deposition_id, "messages-to-depositor")
    from_dep = Document(deposition_id, "messages-from-depositor")
    notes = Document(deposition_id, "notes-from-annotator")
    day = rng.randrange(300)
    for number in range(rng.randint(2, 6)):
        mid = _uuid(rng)
        # Character references are as rare as in the samples: about one message in eight.
        text = (RESOLUTION if rng.random() < 0.125 else "") + PARAGRAPH * rng.randint(10, 40)
        to_dep.put_message(
            Message(
                None,
                mid,
                deposition_id,
                _timestamp(rng, day + number * 7),
                "CS",
                "vldtn",
                None,
                mid,
                f"PDB ID XXXX - Validation report {number}",
                text,
                "text",
                "Y",
            ),
            [
                FileReference(None, mid, deposition_id, ctype, fmt, "1", str(1 + number), "archive", None)
                for ctype, fmt in REFERENCE_TYPES[: rng.randint(0, len(REFERENCE_TYPES))]
            ],
        )
        to_dep.statuses.append(MessageStatus(mid, deposition_id, "Y", rng.choice("YN"), "N"))
    for number in range(rng.randint(0, 2)):
        mid = _uuid(rng)
        parent = to_dep.messages[0].message_id
        from_dep.put_message(
            Message(
                None,
                mid,
                deposition_id,
                _timestamp(rng, day + 3 + number),
                "depositor - Cat, Thomas",
                "Re-upload files",
                None,
                parent,
                "Re-upload files",
                "Dear staff,\n\nPlease unlock the entry.\n" + (";-) Thanks\n" if rng.random() < 0.125 else ""),
                "text",
                "Y",
            )
        )
        to_dep.statuses.append(MessageStatus(mid, deposition_id, rng.choice("YN"), "N", "N"))
    for number in range(rng.randint(0, 3)):
        mid = _uuid(rng)
        notes.put_message(
            Message(
                None,
                mid,
                deposition_id,
                _timestamp(rng, day + number),
                "auto",
                "reminder",
                None,
                mid,
                f"ARCHIVED: Still awaiting feedback {number}",
                "Received: from mail.example.org\n\tby mx.example.org\n" + PARAGRAPH * 5,
                "archive_auto",
                "Y",
            ),
            origcomm_references=[
                OrigCommReference(
                    None,
                    mid,
                    deposition_id,
                    None,
                    "None",
                    _timestamp(rng, day + number),
                    "noreply@example.org",
                    ", ".join(f"annotator{k}@example.org" for k in range(rng.randint(1, 25))),
                    f"Still awaiting feedback {number}",
                    None,
                )
            ],
        )
    return [to_dep, from_dep, notes]


def generate_archive(root: Path, count: int, seed: int = 7, first_id: int = 9100000000) -> list[str]:
    """Write `count` generated depositions under `root`; returns their ids."""
    root.mkdir(parents=True, exist_ok=True)
    ids = []
    for index in range(count):
        deposition_id = f"D_{first_id + index}"
        folder = root / deposition_id
        folder.mkdir(exist_ok=True)
        for document in deposition_documents(deposition_id, seed * 1_000_003 + index):
            path = folder / file_name(deposition_id, document.content_type, 1)
            if document.is_empty() and index % 2:
                continue  # some depositions simply have no file of this type
            path.write_text("" if document.is_empty() else format_document(document), encoding="ascii")
        ids.append(deposition_id)
    return ids
