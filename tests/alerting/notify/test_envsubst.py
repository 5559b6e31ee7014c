from __future__ import annotations

import pytest

from alerting.notify.envsubst import references, substitute


def test_substitution() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert substitute("x${A}y", env) == ("x1y", [])
    assert substitute("${B:-dflt}/${EMPTY:-e}", env) == ("dflt/e", [])
    assert substitute("$$A ${A}$$", env) == ("$A 1$", [])
    assert substitute("${MISSING}-${A}-${OTHER}", env) == ("-1-", ["MISSING", "OTHER"])
    assert substitute("plain $A", env) == ("plain $A", []), "only ${...} is a reference"


def test_references_name_variables_without_reading_them() -> None:
    assert references("x${A}y ${B:-dflt} $$ ${C}") == ["A", "B", "C"]
    assert references("plain $A and $${NOT}") == []
    with pytest.raises(ValueError, match="unclosed"):
        references("${A")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${A", "unclosed '${' at character 1"),
        ("x${1A}", "invalid variable name '1A'"),
        ("${}", "invalid variable name ''"),
    ],
)
def test_malformed_references(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("$", r"\$").replace("{", r"\{")):
        substitute(text, {})
