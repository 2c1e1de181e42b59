"""What a mode decides about one message; the shell (main.py) carries it out."""
from dataclasses import dataclass, field


@dataclass
class Outcome:
    # Header lines to put in front of the message: LF-terminated, folded LF+TAB.
    prepend: bytes = b""
    # (start, end) byte offsets of header fields to leave out (verify mode only:
    # forged DKIM-Status / Authentication-Results). Sorted, not overlapping.
    drop: list = field(default_factory=list)
    # None: run the queue program. Otherwise give up with this exit code
    # (exits.*), without running the child.
    exit_code: int | None = None
    # Text for DKIMCUSTOMERROR (defaults to exits.TEXTS[exit_code]).
    error_text: str | None = None
    # Log fields after "mode=...", in order: list of (key, value) pairs.
    log: list = field(default_factory=list)
