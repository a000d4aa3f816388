"""Every behaviour case of ../shared/cases, through runner.py, in the local sandbox."""
import pytest

from cases import check, load_cases
from conftest import run_runner

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case):
    envelope, seconds, stdout = run_runner(case["request"])
    check(case, envelope, seconds)
    # The envelope is the one line the harness prints; user output never joins it.
    assert len(stdout.strip().splitlines()) == 1


def test_there_are_cases():
    assert len(CASES) >= 30
