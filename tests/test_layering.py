"""Data and models know no loop, no CLI, no server and no report (../shared/DESIGN.md): no module under
`kindling.data` or `kindling.models` imports them, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kindling

PACKAGE = Path(kindling.__file__).resolve().parent
LOWER_LAYERS = ("data", "models")
FORBIDDEN = (
    "kindling.train",
    "kindling.evaluate.evaluation",
    "kindling.runner",
    "kindling.report",
    "kindling.serve",
    "kindling.cli",  # kindling.cli.main, kindling.cli.args, every verb ...
)
FORBIDDEN_PREFIXES: tuple[str, ...] = ()

# Known violations, each to be dropped when its fix lands.
EXPECTED: set[tuple[str, str]] = set()


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, root: Path) -> set[str]:
    """Every module the file imports, absolute or relative, at any depth of the tree."""
    here = _module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # from kindling import train
    return found


def _forbidden(module: str) -> bool:
    if any(module == f or module.startswith(f + ".") for f in FORBIDDEN):
        return True
    return any(module.startswith(prefix) for prefix in FORBIDDEN_PREFIXES)


def _violations(root: Path = PACKAGE) -> set[tuple[str, str]]:
    found = set()
    for layer in LOWER_LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for module in _imported(path, root):
                if _forbidden(module):
                    layer_hit = next(f for f in FORBIDDEN + FORBIDDEN_PREFIXES if module.startswith(f))
                    found.add((rel, layer_hit))
    return found


def test_data_and_models_import_no_training_cli_server_or_report_code():
    unexpected = sorted(_violations() - EXPECTED)
    assert not unexpected, "data/ and models/ must not import these: " + ", ".join(
        f"{path} imports {module}" for path, module in unexpected
    )


def test_the_scan_sees_imports_inside_functions_and_relative_ones(tmp_path):
    """The check can fail: an import tucked in a function, or written relatively, is still found."""
    root = tmp_path / "kindling"
    (root / "models" / "family").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "models" / "family" / "probe.py").write_text(
        "def f():\n    from ...train.events import Callback\n    import kindling.cli.args\n"
    )
    (root / "data" / "probe.py").write_text("from kindling import serve\nfrom . import transforms\n")
    assert _violations(root) == {
        ("models/family/probe.py", "kindling.train"),
        ("models/family/probe.py", "kindling.cli"),
        ("data/probe.py", "kindling.serve"),
    }


@pytest.mark.parametrize(
    "module", ["kindling.training_utils", "kindling.data.transforms", "kindling.models", "kindling.client"]
)
def test_neighbouring_names_are_not_mistaken_for_the_forbidden_ones(module):
    assert not _forbidden(module)


def test_only_the_entry_module_imports_the_cli():
    """kindling.cli is the top: each verb's module there calls the library; nothing outside it (the API,
    serve, report, sweeps ...) imports it back, except `python -m kindling`'s __main__."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("cli/") or rel == "__main__.py":
            continue
        hits = {m for m in _imported(path, PACKAGE) if m == "kindling.cli" or m.startswith("kindling.cli.")}
        found.update((rel, module) for module in hits)
    assert not found, sorted(found)
