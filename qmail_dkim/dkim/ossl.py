"""RSA PKCS#1 v1.5 signatures through OpenSSL's libcrypto, by ctypes.

Why a binding of our own: start-up cost on the per-message path
(qmail-dkimd(8), SPEED: qmail starts one qmail-dkim per message, and for a
small message the interpreter's start-up and imports are most of its cost).
OpenSSL is the library that signs; `cryptography` would be the usual way to
reach it, but its import costs ~15-20 ms per process, more than Python's own
RSA-2048 (~10 ms). `import ctypes`, loading libcrypto and OpenSSL's first-use
set-up cost ~6-10 ms, one signature well under 1 ms (RSA-2048) to ~10 ms
(RSA-4096): privkey.py comes here only where that pays (its
OPENSSL_FROM_BITS). qmail-dkimd signs every RSA key through Key below
(PrivateKey.fast): the server parses the key and makes its signing
context once, its workers only sign; `cryptography` would have added ~12
MB to the image every worker is forked from.

sign() and Key.sign() return None whenever OpenSSL cannot be used (no
libcrypto, not OpenSSL 3, a failed call): the caller then signs in pure
Python, with the same octets (PKCS#1 v1.5 is deterministic).
"""
import ctypes

EVP_PKEY_RSA = 6            # openssl/obj_mac.h NID_rsaEncryption
EVP_PKEY_ED25519 = 1087     # openssl/obj_mac.h NID_ED25519
RSA_PKCS1_PADDING = 1       # openssl/rsa.h

_lib = None                 # the loaded library; False once found unusable


def _open():
    for name in ("libcrypto.so.3", "libcrypto.so"):    # not ctypes.util: it imports subprocess
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    return None


def _bind(lib):
    """Declare every function we call; None unless it is OpenSSL 3 or later."""
    vp, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    lib.OpenSSL_version_num.argtypes = []
    lib.OpenSSL_version_num.restype = ctypes.c_ulong
    if lib.OpenSSL_version_num() < 0x30000000:
        return None
    for fname, args, res in (
            ("d2i_PrivateKey", [i, vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long], vp),
            ("EVP_PKEY_free", [vp], None),
            ("EVP_PKEY_CTX_new", [vp, vp], vp),
            ("EVP_PKEY_CTX_free", [vp], None),
            ("EVP_PKEY_sign_init", [vp], i),
            ("EVP_PKEY_CTX_set_rsa_padding", [vp, i], i),
            ("EVP_PKEY_CTX_set_signature_md", [vp, vp], i),
            ("EVP_PKEY_sign", [vp, ctypes.c_char_p, ctypes.POINTER(sz), ctypes.c_char_p, sz], i),
            ("EVP_PKEY_new_raw_private_key", [i, vp, ctypes.c_char_p, sz], vp),
            ("EVP_MD_CTX_new", [], vp),
            ("EVP_MD_CTX_free", [vp], None),
            ("EVP_DigestSignInit", [vp, vp, vp, vp, vp], i),
            ("EVP_DigestSign", [vp, ctypes.c_char_p, ctypes.POINTER(sz), ctypes.c_char_p, sz], i),
            ("EVP_sha256", [], vp),
            ("EVP_sha1", [], vp),
            ("ERR_clear_error", [], None)):
        f = getattr(lib, fname)         # AttributeError: not the library we want
        f.argtypes = args
        f.restype = res
    return lib


def library():
    """The bound libcrypto, or None if it cannot be used (then never retried)."""
    global _lib
    if _lib is None:
        _lib = False
        try:
            lib = _open()
            if lib is not None:
                _lib = _bind(lib) or False
        except (OSError, AttributeError, ValueError, TypeError):
            _lib = False
    return _lib or None


class Key:
    """A private key parsed once by OpenSSL, for a process that signs with it
    many times (qmail-dkimd: the server parses it and prepares a signing
    context for sha256, before any fork; its workers inherit both and only
    sign). sign() as below; None if OpenSSL could not do it."""

    def __init__(self, pkcs1_der, size):
        self.size = size
        self._pkey = None
        self._ctx = {}          # hash name -> an EVP_PKEY_CTX set up for signing
        lib = library()
        if lib is not None:
            p = ctypes.c_char_p(pkcs1_der)
            self._pkey = lib.d2i_PrivateKey(EVP_PKEY_RSA, None, ctypes.byref(p), len(pkcs1_der)) or None
            lib.ERR_clear_error()

    def __bool__(self):
        return self._pkey is not None

    def prepare(self, hash_name):
        """The signing context for this hash ("sha256" or "sha1"), made once
        (OpenSSL fetches its RSA code and takes the key in here); None if
        OpenSSL cannot."""
        ctx = self._ctx.get(hash_name)
        if ctx is None and self._pkey:
            lib = library()
            md = {"sha256": lib.EVP_sha256, "sha1": lib.EVP_sha1}.get(hash_name)
            md = md() if md else None
            ctx = lib.EVP_PKEY_CTX_new(self._pkey, None) if md else None
            if ctx and (lib.EVP_PKEY_sign_init(ctx) <= 0
                        or lib.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0
                        or lib.EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0):
                lib.EVP_PKEY_CTX_free(ctx)
                ctx = None
            lib.ERR_clear_error()
            if ctx:
                self._ctx[hash_name] = ctx
        return ctx

    def sign(self, hash_name, digest):
        ctx = self.prepare(hash_name)
        if not ctx:
            return None
        lib = library()
        try:
            out = ctypes.create_string_buffer(self.size)
            outlen = ctypes.c_size_t(self.size)
            if lib.EVP_PKEY_sign(ctx, out, ctypes.byref(outlen), digest, len(digest)) != 1:
                return None
            return out.raw if outlen.value == self.size else None
        finally:
            lib.ERR_clear_error()       # leave no error of ours for hashlib's _hashlib to find

    def __del__(self):
        if _lib:
            for ctx in self._ctx.values():
                _lib.EVP_PKEY_CTX_free(ctx)
            if self._pkey:
                _lib.EVP_PKEY_free(self._pkey)
        self._ctx = {}
        self._pkey = None


def sign(pkcs1_der, hash_name, digest, size):
    """The RSASSA-PKCS1-v1_5 signature (size octets) of a digest made by
    hash_name ("sha256" or "sha1"), with the key given as a PKCS#1
    RSAPrivateKey DER; None if OpenSSL could not do it."""
    return Key(pkcs1_der, size).sign(hash_name, digest)


def sign_ed25519(seed, data):
    """The RFC 8032 Ed25519 signature (64 octets) of `data` with the key
    whose 32-octet seed is `seed`; None if OpenSSL could not make it.
    (PyNaCl would cost ~30 ms of imports per process; this ~7, shared with
    RSA when both sign the message.)"""
    lib = library()
    if lib is None or len(seed) != 32:
        return None
    pkey = mctx = None
    try:
        pkey = lib.EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, None, seed, 32)
        mctx = lib.EVP_MD_CTX_new() if pkey else None
        if not mctx or lib.EVP_DigestSignInit(mctx, None, None, None, pkey) != 1:
            return None
        out = ctypes.create_string_buffer(64)
        outlen = ctypes.c_size_t(64)
        if lib.EVP_DigestSign(mctx, out, ctypes.byref(outlen), data, len(data)) != 1 or outlen.value != 64:
            return None
        return out.raw
    finally:
        if mctx:
            lib.EVP_MD_CTX_free(mctx)
        if pkey:
            lib.EVP_PKEY_free(pkey)
        lib.ERR_clear_error()       # leave no error of ours for hashlib's _hashlib to find
