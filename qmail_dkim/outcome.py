"""What a mode decides about one message; the shell (main.py) carries it out.

(A plain class: dataclasses costs about 8 ms of imports on every message.)
"""


class Outcome:
    def __init__(self, prepend=b"", drop=None, exit_code=None, error_text=None, log=None,
                 enhanced=None):
        # Header lines to put in front of the message: LF-terminated, folded LF+TAB.
        self.prepend = prepend
        # (start, end) byte offsets of header fields to leave out (verify mode
        # only: forged DKIM-Status / Authentication-Results). Sorted, disjoint.
        self.drop = drop if drop is not None else []
        # None: run the queue program. Otherwise give up with this exit code
        # (exits.*), without running the child.
        self.exit_code = exit_code
        # Text for DKIMCUSTOMERROR (defaults to exits.TEXTS[exit_code]).
        self.error_text = error_text
        # Enhanced status code for that text, e.g. "5.7.7" (default: exits.ENHANCED).
        self.enhanced = enhanced
        # Log fields after "mode=...", in order: list of (key, value) pairs.
        self.log = log if log is not None else []

    def __repr__(self):
        return "Outcome(exit_code=%r, log=%r)" % (self.exit_code, self.log)
