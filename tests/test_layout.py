"""The layout's rules (DESIGN.md, "Layout"), checked on the import statements of the code.

gateway/ keeps at its top only the composition root and the contracts; gateway/
imports neither archive/ nor cli/; no package imports another's stage modules; the
delivery side and the email actions do not import each other both ways; one module
imports each third-party library with a doubtful future.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_MODULES = {"__init__", "app", "settings", "errors", "blobs", "links"}
# Third-party seams: these libraries are imported by one module each (STYLE.md).
SEAMS = {
    "mailparser": "gateway.mail.parse",
    "bleach": "gateway.mail.sanitize",
    "html2text": "gateway.mail.sanitize",
    "flufl": "gateway.mail.bounce_scan",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imports() -> dict[str, set[str]]:
    """Every module of gateway/, archive/ and cli/ and the modules it imports."""
    found: dict[str, set[str]] = {}
    for top in ("gateway", "archive", "cli"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module)
                    names.update(f"{node.module}.{alias.name}" for alias in node.names)
            found[module_name(path)] = names
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_gateway_top_holds_only_the_composition_root_and_the_contracts() -> None:
    modules = {path.stem for path in (ROOT / "gateway").glob("*.py")}
    assert modules == TOP_MODULES


def test_gateway_imports_neither_archive_nor_cli() -> None:
    wrong = {
        (module, name)
        for module, names in imports().items()
        if within(module, "gateway")
        for name in names
        if within(name, "archive") or within(name, "cli")
    }
    assert wrong == set()


def test_stage_modules_are_imported_only_by_their_own_package() -> None:
    wrong = {
        (module, name)
        for module, names in imports().items()
        for name in names
        if ".stages" in name and not within(module, name.split(".stages")[0])
    }
    assert wrong == set()


def test_delivery_does_not_import_the_email_actions() -> None:
    wrong = {
        (module, name)
        for module, names in imports().items()
        if within(module, "gateway.outbound") or within(module, "gateway.relay")
        for name in names
        if within(name, "gateway.actions") or within(name, "gateway.runtime")
    }
    assert wrong == set()


def test_each_doubtful_library_is_imported_by_one_module() -> None:
    users = {
        library: {
            module
            for module, names in imports().items()
            if any(within(name, library) for name in names)
        }
        for library in SEAMS
    }
    assert users == {library: {module} for library, module in SEAMS.items()}
