"""Bundled examples: real data that ships inside installed packages, and its config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.errors import UsageError

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
DEFAULT_EXAMPLE = "breast-cancer"


def _breast_cancer(path: Path) -> None:
    """scikit-learn's copy of the UCI data, in the UCI row order, diagnosis as M/B."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    # scikit-learn codes malignant as 0; the UCI file (and the cost matrix) say M and B.
    frame["diagnosis"] = frame.pop("target").map({0: "M", 1: "B"})
    frame.to_csv(path, index=False)


WRITERS: dict[str, Callable[[Path], None]] = {"breast-cancer": _breast_cancer}


def example_names() -> list[str]:
    return sorted(WRITERS)


def example_data(name: str, home: Path) -> Path:
    """Write (once) and return the example's CSV under ``<home>/examples``."""
    if name not in WRITERS:
        raise UsageError(f"unknown example '{name}': the examples are {', '.join(example_names())}")
    path = Path(home) / "examples" / f"{name}.csv"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        WRITERS[name](temporary)
        temporary.replace(path)
    return path


def example_config(name: str, home: Path) -> Config:
    """The example's config with its data path filled in."""
    config = load_config(EXAMPLES_DIR / f"{name}.toml")
    data = example_data(name, home)
    return replace(config, data=replace(config.data, path=str(data)))
