"""The package's shape, checked from its source: only the CLI talks to the terminal, no module
grows past 600 lines, the top level stays small, settings are typed, and the formats come from
the writer registry alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "generator"
CLI = PACKAGE / "cli.py"
MODULES = sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def terminal_use(tree: ast.AST) -> list[str]:
    """Every place that talks to the terminal or ends the process: print(), input(),
    sys.stdout/sys.stderr, sys.exit, traceback printing, tqdm, argparse."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "input"):
            found.append(f"line {node.lineno}: {node.func.id}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                node.value.id == "sys" and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__", "exit")
                or node.value.id == "traceback" and node.attr.startswith("print")):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("tqdm", "argparse"):
            found.append(f"line {node.lineno}: from {node.module} import")
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" \
                and {a.name for a in node.names} & {"stdout", "stderr"}:
            found.append(f"line {node.lineno}: from sys import stdout/stderr")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if a.name.split(".")[0] in ("tqdm", "argparse")]
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if p != CLI], ids=rel)
def test_only_the_cli_talks_to_the_terminal(path: Path) -> None:
    """The library yields events and raises errors; cli.py prints them (and __main__ exits)."""
    assert terminal_use(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_terminal_check_finds_what_it_looks_for() -> None:
    source = ("import sys, tqdm\nfrom argparse import Namespace\nfrom sys import stderr\n"
              "print('x')\nsys.stdout.write('x')\nsys.exit(1)\ntraceback.print_exc()\n")
    assert len(terminal_use(ast.parse(source))) == 7
    assert terminal_use(ast.parse(CLI.read_text(encoding="utf-8")))  # the CLI does, of course


@pytest.mark.parametrize("path", [p for p in MODULES if p != CLI], ids=rel)
def test_only_the_cli_has_a_main(path: Path) -> None:
    """`python -m generator` goes through the CLI; no module is a second command line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"] == []
    guards = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert guards == [] or path.name == "__main__.py"


MAX_LINES = 600


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_no_module_is_over_600_lines(path: Path) -> None:
    assert lines(path) <= MAX_LINES


def test_at_most_12_modules_directly_in_the_package() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_settings_are_never_typed_loosely(path: Path) -> None:
    """A parameter or field called `settings` is a `Settings`, never `Any` or untyped."""
    loose = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.arg) and node.arg == "settings":
            hint = ast.unparse(node.annotation) if node.annotation else ""
            if "Settings" not in hint:
                loose.append(f"line {node.lineno}: settings: {hint or '(untyped)'}")
    assert loose == []


def test_the_formats_are_listed_once() -> None:
    """No module but the registry spells out the list of formats or their file names."""
    registry = PACKAGE / "render" / "writers.py"
    listed = []
    for path in MODULES:
        if path == registry:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
                items = node.keys if isinstance(node, ast.Dict) else node.elts
                words = {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
                if len(words & {"md", "html", "xlsx", "pdf", "json"}) >= 3 or \
                        len({w for w in words if w.startswith("budget.")}) >= 3:
                    listed.append(f"{rel(path)}:{node.lineno}")
    assert listed == []


def test_every_user_of_the_format_list_reads_the_registry() -> None:
    from generator import cli
    from generator.render import writers
    from generator.run import batch, portfolio

    assert writers.FORMATS == tuple(w.name for w in writers.WRITERS)
    assert len(set(writers.FORMATS)) == len(writers.WRITERS)
    assert len({w.file_name for w in writers.WRITERS}) == len(writers.WRITERS)
    assert cli.parse_formats(",".join(writers.FORMATS)) == writers.FORMATS
    assert set(portfolio.DOCUMENT_ORDER) == {w.file_name for w in writers.WRITERS}
    assert set(writers.preload_modules()) <= set(batch.PRELOAD)
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    assert ",".join(writers.FORMATS) in " ".join(help_text.split())


def test_an_unknown_format_is_a_usage_error_naming_the_formats() -> None:
    from generator.errors import UsageError
    from generator.render import writers

    with pytest.raises(UsageError) as raised:
        writers.get("word")
    assert str(raised.value) == f"unknown format 'word'; choose from {','.join(writers.FORMATS)}"


# ------------------------------------------------------------------ the Plan is the whole hand-off to render/

RENDER = PACKAGE / "render"
TEMPLATES = PACKAGE.parent / "templates"


def planner_imports(tree: ast.AST) -> set[str]:
    """Every name imported from the planning stage (generator.plan and below), anywhere in a module."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "generator" and any(a.name == "plan" for a in node.names):
                found.add("generator.plan")
            elif node.module == "generator.plan" or node.module.startswith("generator.plan."):
                found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "generator.plan" or a.name.startswith("generator.plan.")}
    return found


def render_rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


@pytest.mark.parametrize("path", sorted(RENDER.rglob("*.py")), ids=render_rel)
def test_render_imports_nothing_from_the_planning_stage(path: Path) -> None:
    """Writers get everything they show on the Plan (model.py): no planner internals, not even the
    inputs of budget.xlsx's formulas (LineItem.guide, RunCosts.maintenance_share, ...)."""
    assert planner_imports(ast.parse(path.read_text(encoding="utf-8"))) == set()


def test_the_templates_reach_nothing_of_the_planning_stage() -> None:
    """Jinja cannot import Python: the templates see only the Plan and the helpers render/document.py
    (checked above) gives them. Nor do they name a planner module, or the package's Python import one."""
    named = [p.relative_to(TEMPLATES).as_posix() for p in sorted(TEMPLATES.rglob("*.j2"))
             if "generator.plan" in p.read_text(encoding="utf-8")]
    imported = {p.name: planner_imports(ast.parse(p.read_text(encoding="utf-8"))) for p in TEMPLATES.rglob("*.py")}
    assert named == [] and set().union(*imported.values()) == set()


def test_the_planner_import_check_finds_what_it_looks_for() -> None:
    code = ("from generator.plan.pricing import _position\nimport generator.plan.risk\nfrom generator import plan\n"
            "def f():\n    from generator.plan import costs\n")
    assert planner_imports(ast.parse(code)) == {"generator.plan.pricing._position", "generator.plan.risk",
                                                "generator.plan", "generator.plan.costs"}
