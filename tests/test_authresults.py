"""authresults: authserv-id parsing, values, the header field."""
import pytest

from qmail_dkim import config
from qmail_dkim.verify import authresults as ar


@pytest.mark.parametrize("value,want", [
    (b" mx.example.net; dkim=pass", "mx.example.net"),
    (b"MX.example.NET;dkim=pass", "mx.example.net"),
    (b" (c (nested)) mx.example.net 1; none", "mx.example.net"),
    (b"\n\tmx.example.net\n\t; dkim=pass", "mx.example.net"),
    (b' "mx.example.net"; x', "mx.example.net"),
    (b' "m\\"x"; x', 'm"x'),
    (b" ; dkim=pass", None),
    (b"", None),
    (b" (unclosed comment", None),
])
def test_field_authserv_id(value, want):
    assert ar.field_authserv_id(value) == want


@pytest.mark.parametrize("value,want", [
    ("example.com", "example.com"), (b"sel", "sel"), ("ab/cd+ef", '"ab/cd+ef"'),
    ('a"b', '"a\\"b"'), ("a\nb", '"a?b"'), ("bücher.example", "xn--bcher-kva.example"),
    ("a b", '"a b"'),
])
def test_pvalue(value, want):
    assert ar.pvalue(value) == want


def test_header_shape():
    h = ar.header("mx.example.net", [ar.result_spec("pass", d="example.com", s="sel",
                                                    a="rsa-sha256", b="AbCdEfGh"),
                                     ar.result_spec("fail", d="x.org", reason="body hash mismatch")])
    assert h == (b"Authentication-Results: mx.example.net;\n"
                 b"\tdkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b=AbCdEfGh;\n"
                 b'\tdkim=fail reason="body hash mismatch" header.d=x.org\n')
    assert ar.header("mx", []) == b"Authentication-Results: mx;\n\tdkim=none\n"


def test_authserv_id_env_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "control").mkdir()
    (tmp_path / "control" / "me").write_text("from-file.example\n")
    def servid(env):
        return config.VerifySettings(env).authserv_id
    assert servid({"DKIMAUTHSERVID": "env.example"}) == "env.example"
    assert servid({}) == "from-file.example"
    assert servid({"DKIMAUTHSERVID": ""}) == "from-file.example"
