"""The named choices and option values the jobs accept, in one module that imports nothing
heavy: the jobs' argument parsers and the pipeline's option table (``pipeline/options.py``)
both read them from here, so a choice is spelled once, and the command line checks its config
with them before it needs any data library (``costpipe --help`` stays fast)."""

from __future__ import annotations

from steps.errors import InputError

#: ``categorical = "auto"``: string columns with few, short values become categorical.
AUTO = "auto"
#: How the asymmetric loss is computed: sample weights on XGBoost's built-in logistic loss,
#: or the custom gradient and hessian (steps/objective.py).
OBJECTIVE_IMPLEMENTATIONS = ("weighted", "custom")
#: Multi-label models: one booster per label, or one multi-output booster (steps/model.py).
MULTILABEL_STRATEGIES = ("per-label", "multi-output")
#: What each label's threshold minimises: the expected cost, or 1 - F1 (steps/evaluate.py).
THRESHOLD_OBJECTIVES = ("cost", "f1")
#: Cost thresholds on the tuning scores as they are, or under kernel-smoothed score
#: distributions (steps/smoothing.py).
THRESHOLD_SMOOTHINGS = ("kernel", "none")
#: When a new model may be registered against the group's latest Approved version (the
#: champion): its test cost is below the champion's on the same rows, the paired bootstrap
#: interval of the difference lies below 0, or no comparison (steps/champion.py).
CHAMPION_CHEAPER = "cheaper"
CHAMPION_SIGNIFICANT = "significant"
CHAMPION_OFF = "off"
CHAMPION_POLICIES = (CHAMPION_CHEAPER, CHAMPION_SIGNIFICANT, CHAMPION_OFF)

__all__ = [
    "AUTO",
    "CHAMPION_CHEAPER",
    "CHAMPION_OFF",
    "CHAMPION_POLICIES",
    "CHAMPION_SIGNIFICANT",
    "MULTILABEL_STRATEGIES",
    "OBJECTIVE_IMPLEMENTATIONS",
    "THRESHOLD_OBJECTIVES",
    "THRESHOLD_SMOOTHINGS",
    "delimiter_option",
]


def delimiter_option(text: str | None) -> str | None:
    """The delimiter a user gave (``--delimiter``, ``[data] delimiter``), or None to sniff.

    One character; ``tab`` and ``\\t`` spell a tab, which is awkward to type in a shell.

    >>> delimiter_option(""), delimiter_option(";"), delimiter_option("tab")
    (None, ';', '\t')
    """
    if not text:
        return None
    spelled = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if len(spelled) != 1 or spelled in '"\r\n' or spelled.isalnum():
        raise InputError(
            f"delimiter {text!r} is not one separator character: give one such as ';', '|' or "
            "tab, or leave it empty to sniff it"
        )
    return spelled
