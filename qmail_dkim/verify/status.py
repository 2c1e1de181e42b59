"""Verification status letters A-Y (qmail-dkim(8), VERIFICATION,
"DKIMVERIFY" and "Headers").

Each letter has a libdkim status name, the historic number libdkim gave it
(A=0 ... F=5, then G=-1, H=-2, ... Y=-19 in table order), the historic
DKIM-Status text (delivery filters match on it) and the RFC 8601 dkim=
result word used in Authentication-Results.

DKIMVERIFY is a set of letters: the message's letter in uppercase rejects
permanently (exit 31), in lowercase temporarily (exit 71); both present:
permanent wins.
"""
from qmail_dkim import exits

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXY"

NAMES = {
    "A": "SUCCESS",
    "B": "FINISHED_BODY",
    "C": "PARTIAL_SUCCESS",
    "D": "NEUTRAL",
    "E": "SUCCESS_BUT_EXTRA",
    "F": "3PS_SIGNATURE",
    "G": "FAIL",
    "H": "BAD_SYNTAX",
    "I": "SIGNATURE_BAD",
    "J": "SIGNATURE_BAD_BUT_TESTING",
    "K": "SIGNATURE_EXPIRED",
    "L": "SELECTOR_INVALID",
    "M": "SELECTOR_GRANULARITY_MISMATCH",
    "N": "SELECTOR_KEY_REVOKED",
    "O": "SELECTOR_DOMAIN_NAME_TOO_LONG",
    "P": "SELECTOR_DNS_TEMP_FAILURE",
    "Q": "SELECTOR_DNS_PERM_FAILURE",
    "R": "SELECTOR_PUBLIC_KEY_INVALID",
    "S": "NO_SIGNATURES",
    "T": "NO_VALID_SIGNATURES",
    "U": "BODY_HASH_MISMATCH",
    "V": "SELECTOR_ALGORITHM_MISMATCH",
    "W": "STAT_INCOMPAT",
    "X": "UNSIGNED_FROM",
    "Y": "BAD_IDENTITY",
}

# A=0 .. F=5, G=-1 .. Y=-19 (libdkim's numbering)
NUMBERS = {c: (i if i <= 5 else 5 - i) for i, c in enumerate(LETTERS)}

TEXTS = {
    "A": "good",
    "B": "process result: no more message body is needed",
    "C": "verify result: at least one but not all signatures verified",
    "D": "verify result: no signatures verified but message is not suspicious",
    "E": "signature result: signature verified but it did not include all of the body",
    "F": "3rd-party signature",
    "G": "DKIM Signature verification failed",
    "H": "signature error: DKIM-Signature could not parse or has bad tags/values",
    "I": "signature error: RSA verify failed",
    "J": "signature error: RSA verify failed but testing",
    "K": "signature error: x= is old",
    "L": "signature error: selector doesn't parse or contains invalid values",
    "M": "signature error: selector g= doesn't match i=",
    "N": "signature error: selector p= empty",
    "O": "signature error: selector domain name too long to request",
    "P": "signature error: temporary dns failure requesting selector",
    "Q": "signature error: permanent dns failure requesting selector",
    "R": "signature error: selector p= value invalid or wrong format",
    "S": "no signatures",
    "T": "no valid signatures",
    "U": "signature verify error: message body does not hash to bh value",
    "V": "signature error: selector h= doesn't match signature a=",
    "W": "signature error: incompatible v=",
    "X": "signature error: not all message's From headers in signature",
    "Y": "signature error: invalid identity in signature",
}

# RFC 8601 dkim= result per signature letter (VERIFICATION, "Headers").
RESULTS = {
    "A": "pass", "E": "pass", "F": "pass",
    "I": "fail", "U": "fail", "J": "fail",
    "K": "policy", "X": "policy", "Y": "policy",
    "H": "neutral", "W": "neutral", "O": "neutral",
    "L": "permerror", "M": "permerror", "N": "permerror", "Q": "permerror",
    "R": "permerror", "V": "permerror",
    "P": "temperror",
    "S": "none",
}

# Enhanced status codes of the reject reply (DKIMCUSTOMERROR), as C's
# dkim_hdr() gives them ("X" becomes 5 or 4).
ENHANCED = dict({c: "X.7.5" for c in LETTERS},
                **{c: "X.7.0" for c in "ABCDEFGOPQ"},
                **{c: "X.7.7" for c in "UVX"}, W="X.7.6")


def result_word(letter):
    return RESULTS.get(letter, "neutral")


def dkim_status_text(letter, old=None):
    """DKIM-Status value; with `old` (the letter before practice):
    'text (old=NAME:n)'."""
    text = TEXTS[letter]
    if old is not None and old != letter:
        text += " (old=%s:%d)" % (NAMES[old], NUMBERS[old])
    return text


def odd_characters(value, letters):
    """The characters of a letters setting (DKIMVERIFY, DMARCVERIFY) that are
    none of `letters` in either case, as warning= text ("" when none): the
    first 8, each once, a space as "space", unprintables as \\xNN."""
    odd = []
    for c in value:
        if c.upper() not in letters and c not in odd:
            odd.append(c)
    return " ".join("space" if c == " " else c if c.isprintable() else "\\x%02x" % ord(c)
                    for c in odd[:8])


def dkimverify_warning(dkimverify):
    """None, or the warning= text for a DKIMVERIFY that cannot mean what it
    says (qmail-dkim(8), DKIMVERIFY): characters that are no letter A-Y/a-y
    (quotes, spaces, digits: ignored), or A/a, which rejects mail whose
    signature verifies. Never a rejection of its own."""
    if not dkimverify:
        return None
    out = []
    shown = odd_characters(dkimverify, LETTERS)
    if shown:
        out.append("DKIMVERIFY characters that are no letter A-Y ignored: %s" % shown)
    if "A" in dkimverify or "a" in dkimverify:
        out.append("DKIMVERIFY has %s: mail whose signature verifies is rejected"
                   % ("A" if "A" in dkimverify else "a"))
    return "; ".join(out) or None


def verify_action(letter, dkimverify):
    """-> (exit code or None, action word) for the message letter and the
    DKIMVERIFY value (None when unset)."""
    if dkimverify:
        if letter.upper() in dkimverify:
            return exits.REJECT_PERM, "reject-permanent"
        if letter.lower() in dkimverify:
            return exits.REJECT_TEMP, "reject-temporary"
    return None, "deliver"
