"""Where the files the service ships (schemas, manifests, templates) are found.

The schemas' canonical copy is the checkout's top-level ``schemas/``; a wheel
carries the same tree as package data under ``uws_server/schemas/``. Code
asks here instead of building paths from ``__file__`` itself.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def schema_path(relative: str) -> Path:
    """The shipped schema file ``relative`` (e.g. ``"seed/seed.manifest.schema.json"``).

    Looks in the installed package first, then in the source checkout.
    """
    for root in (PACKAGE_DIR / "schemas", PACKAGE_DIR.parent / "schemas"):
        candidate = root / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"schema {relative!r} is not shipped with this installation")


#: The Seed manifests of the example job types registered at start-up.
EXAMPLE_MANIFESTS_DIR = PACKAGE_DIR / "jobtypes" / "manifests"
