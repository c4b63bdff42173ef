"""No import cycles in ``src/``, type-only imports included: modules form layers."""

from __future__ import annotations

from pathlib import Path

from import_graph import import_cycles

SRC = Path(__file__).resolve().parents[1] / "src"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_source_tree_has_no_import_cycle() -> None:
    cycles = import_cycles(SRC)

    assert cycles == [], f"modules that import each other: {cycles}"


def test_a_cycle_through_a_type_only_import_counts(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.a import A\nclass B: ...\n"
            ),
            "pkg/c.py": "from pkg import b\n",
        },
    )

    assert import_cycles(tmp_path) == [["pkg.a", "pkg.b"]]


def test_a_submodule_importing_its_package_closes_a_cycle_with_the_package_s_re_exports(
    tmp_path: Path,
) -> None:
    # `from pkg import rules` and `from . import helpers` both import the package itself.
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.engine import Engine\n",
            "pkg/engine.py": "from pkg import rules\nclass Engine: ...\n",
            "pkg/rules.py": "from . import helpers\n",
            "pkg/helpers.py": "",
        },
    )

    assert import_cycles(tmp_path) == [["pkg", "pkg.engine", "pkg.rules"]]
