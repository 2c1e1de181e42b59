"""Locating the shared conformance data (../shared/corpora, see its README).

``corpus_path("arc-validation", "arc-draft-validation-tests.yml")`` returns the
path, or None when the data is absent. Looked for, in order: $QMAIL_DKIM_SHARED
(a directory holding corpora/), the repository's ../shared, and -- in a git
worktree made elsewhere -- ../shared next to the main checkout. The data is
read in place, never copied into the repository.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .tools import REPO


def _candidates():
    env = os.environ.get("QMAIL_DKIM_SHARED")
    if env:
        yield Path(env)
    yield REPO.parent / "shared"
    try:
        common = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--git-common-dir"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        common = ""
    if common:
        main = (REPO / common).resolve().parent
        yield main.parent / "shared"


def corpus_path(*parts: str) -> Path | None:
    for base in _candidates():
        p = base.joinpath("corpora", *parts)
        if p.exists():
            return p
    return None


def skip_reason(*parts: str) -> str:
    return ("conformance data ../shared/corpora/%s is absent (it is not part of the "
            "repository; CI has it; set QMAIL_DKIM_SHARED to its parent directory)"
            % "/".join(parts))
