"""Small text helpers every layer shares (dkim/ is the lowest one that
sign/, verify/, config and the protocol packages all import): a domain name
as it is compared, and message bytes made short text for a log or a reason.
"""


def domain_key(domain):
    """A domain name as it is compared: lowercase, without trailing dots."""
    return domain.lower().rstrip(".")


def to_alabel(domain):
    """Stripped, lowercase, no trailing dot, IDN U-labels as the A-label;
    None if it cannot be converted."""
    domain = domain_key(domain.strip())
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def short(value, n=60, encoding="utf-8"):
    """bytes (decoded, undecodable octets replaced) or anything else as
    text, cut to `n` characters with "..." (n=None: whole); None is "".
    An exception whose first argument is text or bytes (dkimpy's errors
    carry the offending bytes) gives that argument, without a b'...' repr."""
    if value is None:
        return ""
    if isinstance(value, Exception) and value.args and isinstance(value.args[0], (bytes, str)):
        value = value.args[0]
    if isinstance(value, bytes):
        value = value.decode(encoding, "replace")
    value = str(value)
    return value if n is None or len(value) <= n else value[:n] + "..."
