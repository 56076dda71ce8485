"""templates.render: jinja2 templates with strict undefined variables."""

from __future__ import annotations

import jinja2
import pytest

from pytest_boxkoji.templates import render


def test_krb5_conf() -> None:
    text = render("krb5.conf", realm="KOJI.BOX", directory="/d", kdcs=["127.0.0.1:88"])
    assert "default_realm = KOJI.BOX" in text
    assert "kdc = 127.0.0.1:88" in text
    assert "FILE:/d/krb5cc_default" in text
    assert text.endswith("\n")


def test_krb5_conf_lists_every_kdc() -> None:
    text = render("krb5.conf", realm="KOJI.BOX", directory="/d", kdcs=["127.0.0.1:88", "127.0.0.1:89"])
    assert "kdc = 127.0.0.1:88" in text
    assert "kdc = 127.0.0.1:89" in text


def test_missing_variable_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("krb5.conf", realm="KOJI.BOX", kdcs=["127.0.0.1:88"])


def test_unknown_template() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render("no-such-file.conf")
