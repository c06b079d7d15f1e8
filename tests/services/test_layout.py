"""The services' layout, read from the code's own imports (ast, nothing is run): the domain
packages import each other in one direction, with no cycle; no import hides inside a
function; code outside a package uses only what its __init__.py names. The rule is
written in app/services/core/__init__.py."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
SERVICES = APP / "services"
PACKAGES = sorted(p.name for p in SERVICES.iterdir() if (p / "__init__.py").exists())
# Lowest first: a package may import only the packages before it in this order.
ORDER = ["core", "conversations", "operations", "guests", "people"]
# Code that runs the services, never imported by them.
ABOVE_SERVICES = ("app.http", "app.sockets", "app.jobs", "app.keys", "app.inbound_smtp")


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    line: int
    module: str  # what `from X import ...` or `import X` names, made absolute
    names: tuple[str, ...]  # what a `from` import takes (empty for `import X`)
    in_function: bool


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str | None = None) -> list[Import]:
    """Every import of a file (`module`: its name, when it is not under the project)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = module or module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(path, child.lineno, alias.name, (), inside) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (child.level - 1)] if child.level else []
                module = ".".join(base + ([child.module] if child.module else []))
                found.append(Import(path, child.lineno, module, tuple(a.name for a in child.names),
                                    inside))
            elif (isinstance(child, ast.Call) and isinstance(child.func, (ast.Name, ast.Attribute))
                  and (getattr(child.func, "id", None) or getattr(child.func, "attr", None))
                  in ("import_module", "__import__")):
                found.append(Import(path, child.lineno, "<dynamic>", (), True))
            visit(child, inside)

    visit(tree, False)
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def targets(imp: Import) -> list[str]:
    """The modules an import reaches: `from pkg import name` may name a submodule."""
    if not imp.names:
        return [imp.module]
    return [imp.module] + [f"{imp.module}.{name}" for name in imp.names]


def package_of(module: str) -> str | None:
    """The domain package a module of app.services belongs to, if any."""
    parts = module.split(".")
    if parts[:2] == ["app", "services"] and len(parts) > 2 and parts[2] in PACKAGES:
        return parts[2]
    return None


def face(package: str) -> set[str]:
    """What a package's __init__.py names in __all__."""
    tree = ast.parse((SERVICES / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> package it imports -> where (file:line), from every module-level import
    of app/services/<package>/ (an import under `if TYPE_CHECKING:` counts too)."""
    graph: dict[str, dict[str, list[str]]] = {p: {} for p in PACKAGES}
    for package in PACKAGES:
        for path in python_files(SERVICES / package):
            for imp in imports_of(path):
                for other in {package_of(t) for t in targets(imp)} - {None, package}:
                    graph[package].setdefault(other, []).append(
                        f"{path.relative_to(ROOT)}:{imp.line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    found, path, done = [], [], set()

    def walk(node: str) -> None:
        if node in path:
            found.append([*path[path.index(node):], node])
            return
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            walk(nxt)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        walk(node)
    return found


def test_the_packages_are_the_ones_the_rule_orders():
    assert sorted(ORDER) == PACKAGES
    assert not [p.name for p in SERVICES.glob("*.py") if p.name != "__init__.py"], \
        "every service module belongs to a domain package"


def test_no_cycle_between_the_service_packages():
    graph = package_graph()
    assert cycles(graph) == [], {a: {b: where[:3] for b, where in edges.items()}
                                 for a, edges in graph.items()}


@pytest.mark.parametrize("package", ORDER)
def test_a_package_imports_only_the_packages_below_it(package):
    below = set(ORDER[: ORDER.index(package)])
    upward = {other: where for other, where in package_graph()[package].items() if other not in below}
    assert upward == {}, f"{package} may import only {sorted(below) or 'no other package'}"


def test_conversations_never_import_operations():
    assert "operations" not in package_graph()["conversations"]


def test_no_import_hides_inside_a_function_in_the_services_and_jobs():
    hidden = [f"{imp.path.relative_to(ROOT)}:{imp.line} {imp.module}"
              for folder in (SERVICES, APP / "jobs") for path in python_files(folder)
              for imp in imports_of(path) if imp.in_function]
    assert hidden == []


def test_the_services_never_import_the_code_that_runs_them():
    found = [f"{imp.path.relative_to(ROOT)}:{imp.line} {target}"
             for path in python_files(SERVICES) for imp in imports_of(path)
             for target in targets(imp) if target.startswith(ABOVE_SERVICES)]
    assert found == []


def test_code_outside_a_package_uses_only_what_its_face_names():
    faces = {package: face(package) for package in PACKAGES}
    wrong = []
    for path in python_files(APP):
        own = package_of(module_of(path))
        for imp in imports_of(path):
            package = package_of(imp.module)
            if package is None or package == own:
                continue
            where = f"{path.relative_to(ROOT)}:{imp.line}"
            if imp.module != f"app.services.{package}":
                wrong.append(f"{where} imports {imp.module}: not the package's face")
            else:
                wrong += [f"{where} takes {name} from {package}: not in its __all__"
                          for name in imp.names if name not in faces[package]]
    assert wrong == []


def test_every_name_a_face_gives_exists():
    for package in PACKAGES:
        tree = ast.parse((SERVICES / package / "__init__.py").read_text())
        bound = {alias.asname or alias.name for node in tree.body
                 if isinstance(node, ast.ImportFrom) and node.level for alias in node.names}
        assert face(package) <= bound, package


def test_the_checks_see_what_they_look_for(tmp_path):
    """The reader resolves relative imports, finds one inside a function and a cycle, and
    sees the arrows that are there (so that the tests above cannot pass by reading nothing)."""
    found = imports_of(SERVICES / "conversations" / "messages.py")
    assert any(imp.module == "app.services.core" and "Ctx" in imp.names for imp in found)
    assert any(imp.module == "app.services.conversations" and "tickets" in imp.names for imp in found)
    probe = tmp_path / "probe.py"
    probe.write_text("import json\n\n\nasync def f():\n    from ..operations import audit\n")
    assert [(imp.module, imp.in_function) for imp in
            imports_of(probe, "app.services.conversations.probe")] == [
        ("json", False), ("app.services.operations", True)]
    assert cycles({"a": {"b": []}, "b": {"a": []}, "c": {"a": []}}) == [["a", "b", "a"]]
    graph = package_graph()
    assert set(graph["operations"]) == {"core", "conversations"}
    assert set(graph["people"]) == {"core", "conversations", "operations"}
