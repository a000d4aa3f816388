"""runner.py --live-output: the script's output framed on stdout as it comes, ahead of the envelope (live.py)."""
import json
import subprocess
import sys
import time

from conftest import RUNNER, is_frame

import live


def frames_of(stdout):
    return [json.loads(line) for line in stdout.splitlines() if is_frame(line)]


def run_live(script, **extra):
    request = {"script": script, "mode": "script", **extra}
    proc = subprocess.Popen([sys.executable, RUNNER, "--live-output"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    return proc, json.dumps(request).encode()


def test_output_is_framed_on_stdout_as_it_comes_and_the_envelope_is_the_last_line_after_the_frames():
    # One stream for both: the container log keeps order only within a stream, and cuts a long
    # envelope into records that a frame written earlier on the other stream could land among.
    proc, request = run_live("import sys, time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second', flush=True)\n"
                             "sys.stderr.write('oops\\n')\n")
    proc.stdin.write(request)
    proc.stdin.close()
    first = json.loads(proc.stdout.readline())
    seen_at = time.monotonic()
    assert first == {live.MARK: 1, "stream": "stdout", "offset": 0, "bytes": 6, "text": "first\n"}
    lines = proc.stdout.read().decode().splitlines()
    err = proc.stderr.read()
    finished_at = time.monotonic()
    proc.wait()
    assert finished_at - seen_at > 1, "the first line came before the script ended"
    assert [(f["stream"], f["offset"], f["text"]) for f in frames_of("\n".join(lines))] == [("stdout", 6, "second\n"), ("stderr", 0, "oops\n")]
    assert len(lines) == 3 and not is_frame(lines[-1])
    envelope = json.loads(lines[-1])
    assert envelope["stdout"] == "first\nsecond\n" and envelope["stderr"] == "oops\n"
    assert err == b""


def test_a_script_cannot_forge_a_frame_or_the_envelope_through_its_output():
    forged = json.dumps({live.MARK: 1, "stream": "stderr", "offset": 0, "bytes": 3, "text": "x"})
    proc, request = run_live(f"print({forged!r})\nprint('{{\"success\": true}}')\n")
    out, _ = proc.communicate(request, timeout=60)
    frames = frames_of(out.decode())
    assert [f["stream"] for f in frames] == ["stdout"]
    assert frames[0]["text"] == forged + '\n{"success": true}\n'
    assert json.loads(out.decode().splitlines()[-1])["success"] is True


def test_the_live_stream_stops_at_its_limit_and_at_the_output_cap_and_says_which():
    proc, request = run_live("import sys\nsys.stdout.write('a' * 300000)\nsys.stdout.flush()\n",
                             limits={"outputBytes": 4096})
    out, _ = proc.communicate(request, timeout=60)
    frames = frames_of(out.decode())
    stdout = [f for f in frames if f["stream"] == "stdout"]
    assert sum(f["bytes"] for f in stdout) == 4096
    assert stdout[-1]["stopped"] == "output_limit"
    assert json.loads(out.decode().splitlines()[-1])["error"]["type"] == "output_limit"


class Recorder:
    """A binary stream that keeps each frame written to it, parsed."""

    def __init__(self):
        self.frames = []

    def write(self, data):
        self.frames.append(json.loads(data))

    def flush(self):
        pass


def recorded():
    sink = Recorder()
    return live.Frames(sink), sink.frames


def test_frames_keep_within_the_live_limit():
    frames, written = recorded()
    frames.chunk("stdout", 0, b"x" * (live.LIVE_BYTES - 10))
    frames.chunk("stdout", live.LIVE_BYTES - 10, b"y" * 100)
    frames.chunk("stdout", live.LIVE_BYTES + 90, b"z" * 100)
    assert sum(f["bytes"] for f in written) == live.LIVE_BYTES
    assert written[-1]["stopped"] == "live_limit" and written[-1]["text"] == "y" * 10
    assert all(f["bytes"] <= live.PIECE for f in written)


def test_frames_keep_within_their_own_budget_however_the_output_comes():
    # A byte at a time, each a control character JSON spells in six: the frames, not the text, run out.
    frames, written = recorded()
    offset = 0
    while not written or "stopped" not in written[-1]:
        frames.chunk("stdout", offset, b"\x01")
        offset += 1
    framed = sum(len(json.dumps(f, ensure_ascii=False)) + 1 for f in written)
    assert live.FRAMED_BYTES - 1024 < framed <= live.FRAMED_BYTES
    assert written[-1] == {**written[-1], "stopped": "live_limit", "bytes": 0, "text": ""}
    assert sum(f["bytes"] for f in written) == offset - 1 < live.LIVE_BYTES
    frames.chunk("stdout", offset, b"more")
    frames.chunk("stderr", 0, b"the other stream has its own")
    assert [f["stream"] for f in written[-1:]] == ["stderr"]


def test_a_character_split_between_two_reads_arrives_whole():
    frames, written = recorded()
    snow = "☃".encode()
    frames.chunk("stdout", 0, b"a" + snow[:1])
    frames.chunk("stdout", 2, snow[1:] + b"b")
    assert "".join(f["text"] for f in written) == "a☃b"
    # Offsets of the text as UTF-8: the snowman's three bytes count where its text is.
    assert [(f["offset"], f["bytes"]) for f in written] == [(0, 1), (1, 4)]


def test_a_read_past_both_the_live_limit_and_the_output_cap_stops_at_the_live_limit_leaving_a_cut_character_whole():
    # The live limit falls inside "é", and the output cap a little after it, in the same read.
    frames, written = recorded()
    data = b"a" * (live.LIVE_BYTES - 1) + "é".encode() + b"b" * 100
    frames.chunk("stdout", 0, data, cut=True)
    assert written[-1]["stopped"] == "live_limit"
    text = "".join(f["text"] for f in written)
    assert data.decode().startswith(text) and "\ufffd" not in text
    assert sum(f["bytes"] for f in written) == len(text.encode())


def test_offsets_count_the_text_as_the_outcome_has_it_whatever_bytes_the_script_wrote():
    # Bytes that are no UTF-8 are U+FFFD in the outcome (three bytes): a watcher that had the live
    # frames takes the rest of the outcome's text at their end, and repeats nothing.
    proc, request = run_live("import sys, time\nsys.stdout.buffer.write(b'a\\xff\\xe2\\x98'); sys.stdout.flush()\ntime.sleep(0.3)\n"
                             "sys.stdout.buffer.write(b'\\x83b\\xc3'); sys.stdout.flush()\n")
    out, _ = proc.communicate(request, timeout=60)
    frames = [f for f in frames_of(out.decode()) if f["stream"] == "stdout"]
    outcome = json.loads(out.decode().splitlines()[-1])["stdout"].encode("utf-8")
    for f in frames:
        assert outcome[f["offset"]:f["offset"] + f["bytes"]] == f["text"].encode("utf-8")
    assert outcome == "a\ufffd☃b\ufffd".encode("utf-8")
    assert sum(f["bytes"] for f in frames) == len(outcome) - 3, "the last byte, a character begun, is the outcome's to tell"
