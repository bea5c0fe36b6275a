"""The HTML report of an execution: the DAG, the cost table and the cost plots, in one file.

* :mod:`.model`: the execution as plain data, and its per-label views;
* :mod:`.local` / :mod:`.sagemaker`: loaders, from a local home or from SageMaker and S3;
* :mod:`.layout` / :mod:`.dag_svg`: the DAG, laid out in layers and drawn as SVG;
* :mod:`.figures`: the plots (matplotlib, embedded as SVG data URIs);
* :mod:`.row_figures`: under per-row costs, the cost against the rule's shift, what the errors
  cost, and the costliest wrong decisions;
* :mod:`.page`: the HTML page;
* :mod:`.command`: ``costpipe report`` and the report ``costpipe run`` writes.

Importing this package is cheap (the command line imports it for every command); pandas and
matplotlib are imported only when a report is made.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.report.model import ReportData


__all__ = ["write_report"]


def write_report(data: ReportData, output: Path) -> Path:
    """Render the page and write it atomically; returns the absolute path."""
    from pipeline.report.page import render_page

    page = render_page(data)
    output = Path(output).expanduser().resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(page)
        os.chmod(temporary, 0o644)  # mkstemp makes files private; a report is for sharing
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return output
