"""The behaviour cases of ../shared/cases (read from there) and the check of an
envelope against one; the TypeScript twin is test/cases.ts."""
import glob
import json
import os

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CASES_DIR = os.environ.get("SCRIPTRUN_CASES_DIR", os.path.join(REPO, "..", "shared", "cases"))


def load_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(CASES_DIR, "*.json"))):
        with open(path, encoding="utf-8") as f:
            cases.append(json.load(f))
    return cases


def check(case, env, seconds):
    """Asserts that envelope `env`, which took `seconds`, is what the case expects."""
    e, err = case["expect"], env.get("error") or {}
    why = f"{case['name']}: {json.dumps(env)[:600]}"
    if "success" in e:
        assert env["success"] == e["success"], why
    if "result" in e:
        assert env["result"] == e["result"], why
    if "stdout" in e:
        assert env["stdout"] == e["stdout"], why
    if "stdoutLines" in e:
        assert len([l for l in env["stdout"].split("\n") if l]) == e["stdoutLines"], why
    if "resultLength" in e:
        assert len(env["result"]) == e["resultLength"], why
    if "errorType" in e:
        assert err.get("type") == e["errorType"], why
    if "errorTypeIn" in e:
        assert err.get("type") in e["errorTypeIn"], why
    if "errorLine" in e:
        assert err.get("line") == e["errorLine"], why
    if "availableFunctions" in e:
        assert err.get("availableFunctions") == e["availableFunctions"], why
    if "messageContains" in e:
        assert e["messageContains"] in err.get("message", ""), why
    if "stderrContains" in e:
        assert e["stderrContains"] in env["stderr"], why
    if "exitCode" in e:
        assert env["exitCode"] == e["exitCode"], why
    if "stdoutMaxBytes" in e:
        assert len(env["stdout"].encode()) <= e["stdoutMaxBytes"], why
    if "maxSeconds" in e:
        assert seconds <= e["maxSeconds"], f"{why} took {seconds:.1f}s"
