"""Shared helpers of the runner's tests.

Some tests run the harness as a runner pod does, as uid 65532 (through setpriv), which only root can
become. Where the tests do not run as root, those fail rather than skip, so that `pytest -q` cannot
lose them to a quiet "s". To run the rest on a machine where that is known and accepted, set
SCRIPTRUN_TESTS_NOT_ROOT=1: they are then skipped, with the reason."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

RUNNER = os.path.join(os.path.dirname(__file__), "..", "runner.py")
sys.path.insert(0, os.path.dirname(RUNNER))
sys.path.insert(0, os.path.dirname(__file__))

import live  # the harness's, found through the path above


def is_frame(line):
    """Whether a line of the runner's stdout is a frame of live output: each begins with its mark as
    the first key, as core/liveOutput.ts's FRAME_START reads it, and no envelope does."""
    return line.startswith('{"' + live.MARK + '"')


NOT_ROOT_OPT_OUT = "SCRIPTRUN_TESTS_NOT_ROOT"


def become_pod_user():
    """Call first in a test that becomes uid 65532: it fails where that cannot be done, or is
    skipped when SCRIPTRUN_TESTS_NOT_ROOT=1 says this machine is known not to be root."""
    if not shutil.which("setpriv"):
        pytest.fail("setpriv (util-linux) is needed to become uid 65532, as a runner pod runs")
    if os.geteuid() == 0:
        return
    if os.environ.get(NOT_ROOT_OPT_OUT) == "1":
        pytest.skip(f"needs root to become uid 65532 ({NOT_ROOT_OPT_OUT}=1)")
    pytest.fail(f"needs root to become uid 65532, as a runner pod runs; set {NOT_ROOT_OPT_OUT}=1 to skip this knowingly")


def run_runner(request, *args, raw=None):
    """Runs runner.py as a user would; returns (envelope or parsed output, seconds, stdout)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, RUNNER, *args], input=raw if raw is not None else json.dumps(request),
                          capture_output=True, text=True, timeout=120, check=False)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), seconds, proc.stdout


@pytest.fixture
def runner():
    return run_runner


@pytest.fixture(params=[True, False], ids=["with-proc", "without-proc"])
def run_either(request, monkeypatch):
    """run(request) -> envelope: through runner.py as a user would, or, as in a pod where no
    fresh /proc can be mounted, in process with that forced (the same code otherwise)."""
    import runner

    def run(req):
        if run.with_proc:
            return run_runner(req)[0]
        envelope = runner.run_request(req)
        json.dumps(envelope, allow_nan=False)
        return envelope

    run.with_proc = request.param
    if not run.with_proc:
        monkeypatch.setattr(runner, "_PROC_OK", False)
    return run
