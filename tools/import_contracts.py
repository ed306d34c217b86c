"""An import-linter contract type: a module's underscore names are its own.

No module may import another module's ``_private`` name (``from a.b import _name``) or reach
one through a module it imported (``services._credit(...)``). When another module needs it, it
becomes public API with a docstring, or the caller is wrong. Dunder names are not private.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _source_of(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _violations(module: str, project: set[str]) -> list[str]:
    path = _source_of(module)
    if path is None:
        return []
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    aliases: dict[str, str] = {}  # a local name bound to a project module -> that module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if target in project:
                    aliases[alias.asname or alias.name] = target
                elif _private(alias.name) and node.module in project and node.module != module:
                    found.append(f"{module}:{node.lineno} imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in project and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
            and aliases[node.value.id] != module
        ):
            target = aliases[node.value.id]
            found.append(f"{module}:{node.lineno} uses {target}.{node.attr}")
    return found


class PrivateNamesContract(Contract):
    """Modules under ``containers`` use no other module's underscore names."""

    type_name = "private_names"

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        containers: list[str] = self.containers  # type: ignore[assignment]
        project = {m for m in graph.modules if m.split(".")[0] in containers}
        violations: list[str] = []
        for module in sorted(project):
            violations.extend(_violations(module, project))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            output.print_error(violation, bold=False)
            output.new_line()
