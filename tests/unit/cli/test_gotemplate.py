"""``--format``: docker's Go templates as people write them, or a clear refusal."""

from __future__ import annotations

import pytest

from pycompose.cli.gotemplate import TemplateError, format_rows, go_json, render

ROW = {"Name": "p-web-1", "State": "running", "Publishers": [{"TargetPort": 80}],
       "Labels": "a=b", "ExitCode": 0, "Health": ""}
TABLE = [("NAME", "Name"), ("STATE", "State")]


def test_fields_and_escapes() -> None:
    assert format_rows("{{.Name}}\\t{{.State}}", [ROW], TABLE) == ["p-web-1\trunning"]
    assert render("{{ .Name }}", ROW) == "p-web-1"


def test_json_of_the_row_and_of_a_field_is_go_compact() -> None:
    assert render("{{json .Publishers}}", ROW) == '[{"TargetPort":80}]'
    assert render("{{.Publishers | json}}", ROW) == '[{"TargetPort":80}]'
    assert go_json({"a": "<b>&"}) == '{"a":"\\u003cb\\u003e\\u0026"}'
    assert format_rows("json", [ROW], TABLE)[0].startswith('{"Name":"p-web-1"')


def test_table_prefix_prints_a_header_and_aligns() -> None:
    out = format_rows("table {{.Name}}\\t{{.ExitCode}}", [ROW, {**ROW, "Name": "x"}], TABLE)
    assert [c.strip() for c in out[0].split("   ") if c] == ["NAME", "EXIT CODE"]
    assert out[1].split() == ["p-web-1", "0"] and out[2].index("0") == out[1].index("0")


def test_default_table() -> None:
    assert format_rows(None, [ROW], TABLE) == ["NAME      STATE", "p-web-1   running"]
    assert format_rows("table", [], TABLE) == ["NAME   STATE"]


def test_functions() -> None:
    assert render("{{upper .State}} {{lower .Name}} {{title .State}}", ROW) == \
        "RUNNING p-web-1 Running"
    assert render('{{join .Publishers ","}}', ROW) == '{"TargetPort":80}'


def test_range_if_with_and_variables_as_docker_inspect_scripts_use_them() -> None:
    doc = {"Name": "web", "Nets": {"b": {"IPAddress": "10.0.0.3"}, "a": {"IPAddress": "10.0.0.2"}},
           "Ports": [80, 443], "Empty": [], "Health": None}
    assert render("{{range .Nets}}{{.IPAddress}} {{end}}", doc) == "10.0.0.2 10.0.0.3 "
    assert render("{{range $k, $v := .Nets}}{{$k}}={{$v.IPAddress}};{{end}}", doc) == \
        "a=10.0.0.2;b=10.0.0.3;"
    assert render("{{range $p := .Ports}}{{$p}}/{{$.Name}} {{end}}", doc) == "80/web 443/web "
    assert render("{{range .Empty}}x{{else}}none{{end}}", doc) == "none"
    assert render("{{if .Health}}h{{else}}no health{{end}}", doc) == "no health"
    assert render("{{with .Nets.a}}{{.IPAddress}}{{end}}", doc) == "10.0.0.2"
    assert render("{{- range .Ports -}}\n  {{.}}\n{{- end}}", doc) == "80443"


@pytest.mark.parametrize("fmt", ["{{range .Name}}x{{end}}", "{{if .Name}}y",
                                 "{{end}}", "{{define \"x\"}}{{end}}",
                                 "{{.NoSuchField}}", "{{printf \"%s\" .Name}}"])
def test_what_is_not_understood_is_refused_not_ignored(fmt: str) -> None:
    with pytest.raises(TemplateError):
        render(fmt, ROW)


@pytest.mark.parametrize("fmt", ["{{", "{{.Name}} {{", "table {{.Name}}\t{{"])
def test_an_action_never_closed_is_refused(fmt: str) -> None:
    """Go's parser: "unclosed action" (the text was printed as it was, ignored)."""
    with pytest.raises(TemplateError, match="unclosed action"):
        render(fmt, {"Name": "a"})
