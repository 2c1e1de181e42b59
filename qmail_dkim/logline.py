"""The one log line per message (qmail-dkim(8), LOG).

    qmail-dkim: mode=sign result=signed d=example.com s=default ...

Values with spaces, quotes or '=' are double-quoted; control characters are
escaped so one message is always one line. Several signatures: comma-joined.
"""
_SPECIAL = frozenset(' \t\n\r\x0b\x0c"=\\')


def quote(value):
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    value = str(value)
    value = "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in value)
    if value and not any(c in _SPECIAL or c.isspace() for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_line(mode, fields):
    parts = ["qmail-dkim:", "mode=" + quote(mode)]
    for key, value in fields:
        if value is None:
            continue
        parts.append("%s=%s" % (key, quote(value)))
    return " ".join(parts)
