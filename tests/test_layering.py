"""The house rules of the package's layout (../shared/DESIGN.md), read from the source itself.

Every import counts: at module level and inside functions (only an `if TYPE_CHECKING:` block is skipped),
absolute or relative. The layers, low to high; a module imports its own folder and lower layers only:

    errors                                      what every layer raises
    util, plugins                               files, hashes, threads; entry-point discovery
    config                                      the schema, recipes and flags, the checks, the defaults
    data                                        sources, samples, splits, preprocessing
    task                                        the problem's kind, metrics, its inputs
    models                                      the registry, the user's code, the built-in networks
    bundle                                      the saved model: write, read, check, the run folder
    train                                       the loop, checkpoints, the LR range test
    evaluate, predict                           scores and baselines; the Predictor, batch, export
    report                                      the page, its plots, the data doctor
    serve, runner                               the HTTP app; one training run from a config
    crossval                                    K folds of runs and their ensemble
    api                                         kindling.fit / load / cv and the Run they return
    sweeps                                      many runs through Optuna (kindling.sweep returns a Run)
    cli                                         the verbs
    __main__, kindling (the package)            `python -m kindling`; the public names

Two names on one line are neighbours that know nothing of each other (an arrow between them is
sideways, and as wrong as an upward one).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import kindling

PACKAGE = Path(kindling.__file__).resolve().parent
LAYERS = [
    ["errors"],
    ["util", "plugins"],
    ["config"],
    ["data"],
    ["task"],
    ["models"],
    ["bundle"],
    ["train"],
    ["evaluate", "predict"],
    ["report"],
    ["serve", "runner"],
    ["crossval"],
    ["api"],
    ["sweeps"],
    ["cli"],
    ["__main__", ""],  # "": the package's own __init__ (kindling.fit, kindling.sweep ...)
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
MAX_ROOT_MODULES = 8
MAX_LINES = 400


def _name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(root: Path) -> dict[str, Path]:
    return {_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imports(root: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """module -> {imported kindling module: line}, at any depth of the tree."""
    modules = _modules(root)
    top = root.name

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_nodes(tree)
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base_parts = package[: len(package) - node.level + 1] if node.level else []
                base = ".".join(base_parts + ([node.module] if node.module else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for name in names:
                if name == top or name.startswith(top + "."):
                    target = resolve(name)
                    if target and target != module:
                        graph[module].setdefault(target, node.lineno)
    return graph


def _layer(module: str, root: Path) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def wrong_way(graph: dict[str, dict[str, int]], root: Path = PACKAGE) -> list[str]:
    """'a.py:12 imports b (layer x up to layer y)' for each arrow to a higher or a neighbouring layer."""
    found = []
    for module in sorted(graph):
        here = _layer(module, root)
        for target, line in sorted(graph[module].items()):
            there = _layer(target, root)
            if here != there and RANK[there] >= RANK[here]:
                path = _modules(root)[module].relative_to(root).as_posix()
                found.append(
                    f"{path}:{line} imports {target} ({here or 'kindling'} -> {there or 'kindling'})"
                )
    return found


def test_every_folder_and_root_module_has_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    names = folders | {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert names <= set(RANK), f"give these a row in LAYERS: {sorted(names - set(RANK))}"


def test_no_import_cycles_at_any_depth():
    found = cycles(imports())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_goes_up_or_sideways():
    found = wrong_way(imports())
    assert not found, "imports against the layer table:\n" + "\n".join(found)


def test_the_root_holds_few_modules_and_no_module_is_long():
    root_modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root_modules) <= MAX_ROOT_MODULES, root_modules
    long = {
        p.relative_to(PACKAGE).as_posix(): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _probe(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "kindling"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


def test_the_scan_sees_imports_inside_functions_relative_ones_and_cycles(tmp_path):
    """The checks can fail: an import tucked in a function, or written relatively, is still found."""
    root = _probe(
        tmp_path,
        {
            "models/family/probe.py": "def f():\n    from ...train.events import Callback\n",
            "train/events.py": "from kindling.models.family import probe\n",
            "data/probe.py": "from kindling import serve\nfrom typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from kindling.cli import main\n",
            "serve/__init__.py": "",
            "cli/main.py": "",
        },
    )
    graph = imports(root)
    assert graph["kindling.models.family.probe"] == {"kindling.train.events": 2}
    assert graph["kindling.data.probe"] == {"kindling.serve": 1}  # the TYPE_CHECKING import is skipped
    assert cycles(graph) == [["kindling.models.family.probe", "kindling.train.events"]]
    assert wrong_way(graph, root) == [
        "data/probe.py:1 imports kindling.serve (data -> serve)",
        "models/family/probe.py:2 imports kindling.train.events (models -> train)",
    ]


@pytest.mark.parametrize("pair", [("data", "data"), ("evaluate", "predict"), ("runner", "serve")])
def test_a_folder_may_import_itself_but_not_its_neighbour(pair, tmp_path):
    a, b = pair
    root = _probe(tmp_path, {f"{a}/x.py": f"from kindling.{b} import y\n", f"{b}/y.py": ""})
    assert bool(wrong_way(imports(root), root)) == (a != b)
