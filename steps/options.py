"""Options about the table that the jobs and the command line share, without importing pandas
(the command line checks its config with them before it needs any data library)."""

from __future__ import annotations

from typing import Optional

from steps.errors import InputError

#: ``categorical = "auto"``: string columns with few, short values become categorical.
AUTO = "auto"

__all__ = ["AUTO", "delimiter_option"]


def delimiter_option(text: Optional[str]) -> Optional[str]:
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
