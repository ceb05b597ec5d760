"""The import layering documented in docs/architecture.md, checked on the source.

Every top-level part of the package has a layer; a module may import only from
strictly lower layers (so no two parts import each other, and shared
mechanisms sit below everything that uses them).
"""

import ast
import pathlib

import vidpose

LAYERS = {
    "errors": 0, "skeletons": 0, "progress": 0, "geometry": 0, "version": 0,
    "types": 1, "store": 1, "io": 1, "settings": 1,
    "metrics": 2, "viz": 2, "flow": 2, "report": 2,
    "tracking": 3, "backends": 3, "models": 3,
    "data": 4,
    "objectives": 5,
    "methods": 6,
    "training": 7,
    "stages": 8,
    "pipeline": 9,
    "api": 10, "batch": 10,
    "bench": 11,
    "cli": 12,
}

ROOT = pathlib.Path(vidpose.__file__).parent


def _imports():
    for f in ROOT.rglob("*.py"):
        rel = f.relative_to(ROOT).parts
        if rel == ("__init__.py",):
            continue  # the package root re-exports the API lazily
        unit = rel[0].removesuffix(".py")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] if node.module != "vidpose" else [f"vidpose.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for n in names:
                parts = n.split(".")
                if parts[0] == "vidpose" and len(parts) > 1 and parts[1] != unit:
                    yield f, unit, parts[1]


def test_every_part_has_a_layer():
    parts = {p.name.removesuffix(".py") for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    parts.discard("__init__")
    assert parts <= set(LAYERS), f"add {sorted(parts - set(LAYERS))} to LAYERS and docs/architecture.md"


def test_imports_only_go_down():
    bad = []
    for f, unit, target in _imports():
        if target not in LAYERS or LAYERS[target] >= LAYERS[unit]:
            bad.append(f"{f.relative_to(ROOT)}: {unit} (layer {LAYERS[unit]}) imports {target} (layer {LAYERS.get(target)})")
    assert not bad, "\n".join(bad)


def test_models_never_import_the_pipeline_cli_or_bench():
    for f, unit, target in _imports():
        if unit == "models":
            assert target not in ("pipeline", "cli", "bench", "api", "training", "data"), f


def test_nothing_takes_names_from_the_package_root():
    """``vidpose/__init__.py`` sits above everything (it re-exports the API): no module inside the
    package may import a name from it (``from vidpose import __version__``); submodules are fine."""
    bad = []
    for f in ROOT.rglob("*.py"):
        if f.relative_to(ROOT).parts == ("__init__.py",):
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "vidpose":
                bad += [f"{f.relative_to(ROOT)}: from vidpose import {a.name}" for a in node.names
                        if a.name not in LAYERS]
    assert not bad, "\n".join(bad)


def test_no_architecture_flag_branches():
    """A method is a module that builds its parts; no shared code picks an architecture by flag."""
    flags = ("is_composite", "is_hourglass", "cfg.arch ==", "cfg.arch in", ".arch ==")
    bad = [f"{f.relative_to(ROOT)}: {flag}" for f in ROOT.rglob("*.py")
           for flag in flags if flag in f.read_text(encoding="utf-8")]
    assert not bad, "\n".join(bad)


def test_every_method_is_one_module_with_config_build_objective():
    from vidpose.methods import METHODS, get

    for name in METHODS:
        m = get(name)
        assert m.name == name and m.config.method == name
        assert callable(m.build) and callable(m.objective)
        assert m.build.__module__ == m.config.__module__  # config and build live together
