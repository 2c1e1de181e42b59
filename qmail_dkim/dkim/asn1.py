"""DER read as dkimpy's dkim.asn1 reads it, with its outcomes and error
texts: the elements of a template in order, each read as its tag says
(INTEGER unsigned), lengths of any form, data after the last element
ignored, a SEQUENCE longer than its data cut short. Our own rather than
dkimpy's for start-up cost on the per-message path (qmail-dkimd(8), SPEED);
the same keys are accepted. Used for public keys (keyrecord.py) and private
keys (privkey.py)."""

INTEGER, BIT_STRING, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x03, 0x04, 0x05, 0x06, 0x30


class Asn1Error(ValueError):
    pass


class Asn1Null(Exception):
    """A NULL with content: dkimpy's assert, which skips its fallback."""


def parse(template, data):
    """dkimpy's asn1_parse: the elements of `template` in order; Asn1Error
    for a wrong tag or truncated data, Asn1Null for a NULL with content."""
    r = []
    i = 0
    n = len(data)
    try:
        for t in template:
            tag = data[i]
            i += 1
            if tag != t[0]:
                raise Asn1Error("Unexpected tag (got %02x, expecting %02x)" % (tag, t[0]))
            length = data[i]
            i += 1
            if length & 0x80:
                count = length & 0x7F
                length = 0
                for _ in range(count):
                    length = (length << 8) | data[i]
                    i += 1
            if tag == INTEGER:
                if i + length > n:
                    i = n
                    raise IndexError
                r.append(int.from_bytes(data[i:i + length], "big"))
                i += length
            elif tag == NULL:
                if length != 0:
                    raise Asn1Null()
                r.append(None)
            elif tag == SEQUENCE:
                r.append(parse(t[1], data[i:i + length]))
                i += length
            else:                   # BIT STRING, OBJECT IDENTIFIER, OCTET STRING
                r.append(data[i:i + length])
                i += length
        return r
    except IndexError:
        raise Asn1Error("Data truncated at byte %d" % i)


# DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017, section 9.2, note 1)
DIGEST_INFO = {"sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
               "sha1": bytes.fromhex("3021300906052b0e03021a05000414")}


def emsa_pkcs1_v15(hash_name, digest, k):
    """EMSA-PKCS1-v1_5 (RFC 8017, 9.2) of `digest` for a k-octet modulus:
    what RSA signs, and what a verified signature must give back. None when
    k is too short for it ("intended encoded message length too short")."""
    t = DIGEST_INFO[hash_name] + digest
    if k < len(t) + 11:
        return None
    return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
