"""The generic runner behind ``python -m benchmarks`` (no benchmark is run here)."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import available, main, split_arguments


def test_every_public_module_with_main_is_a_benchmark() -> None:
    """objective and sweep are found; helper modules starting with '_' are not."""
    names = available()
    assert {"objective", "sweep"} <= set(names)
    assert not [name for name in names if name.startswith("_")]
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("argv", "names", "flags"),
    [
        ([], [], []),
        (["objective", "sweep"], ["objective", "sweep"], []),
        (["--quick"], [], ["--quick"]),
        (
            ["objective", "--rows", "1000", "--rounds", "5"],
            ["objective"],
            ["--rows", "1000", "--rounds", "5"],
        ),
    ],
)
def test_names_come_first_and_flags_pass_through(
    argv: list[str], names: list[str], flags: list[str]
) -> None:
    """Flag values that look like names ('1000') stay with their flags."""
    assert split_arguments(argv) == (names, flags)


def test_unknown_benchmark_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A name that is not a benchmark exits 2 and lists the real ones, running nothing."""
    assert main(["nope"]) == 2
    captured = capsys.readouterr()
    assert "no benchmark named nope" in captured.err and "objective" in captured.err
    assert captured.out == ""


def test_a_benchmark_rejecting_a_flag_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Flags a benchmark does not know make it fail, and the runner exit 1."""
    assert main(["sweep", "--no-such-flag"]) == 1
    assert "failed: sweep" in capsys.readouterr().err
