"""The one log line per message (qmail-dkim(8), LOG).

    qmail-dkim: mode=sign result=signed d=example.com s=default ...

Values with spaces, quotes or '=' are double-quoted; control characters are
escaped so one message is always one line. Several signatures: comma-joined.
"""
def quote(value):
    """A field's value as written: escaped and quoted only where needed (a
    str method per test, not a per-character loop: every message's line)."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    value = str(value)
    if not value.isprintable():
        value = "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in value)
    # Quoted when it holds ' ', '"', '=' or a backslash: once escaped, the
    # only white space left is ' ' (str.isprintable() is false for the rest)
    if value and not (" " in value or '"' in value or "=" in value or "\\" in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_line(mode, fields):
    parts = ["qmail-dkim:", "mode=" + quote(mode)]
    for key, value in fields:
        if value is None:
            continue
        parts.append("%s=%s" % (key, quote(value)))
    return " ".join(parts)
