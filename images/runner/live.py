"""Live output (runner.py --live-output): what the script prints, framed as it comes, one JSON line per
piece on the runner's stdout, ahead of the envelope. The API follows the log and passes each frame on
to the run's watchers as an `output` event. Frames and envelope share one stream because the
container log keeps order only within a stream, and cuts a long line (the envelope) into records
that a frame on the other stream, written earlier, could still land among.

The script's text travels inside a JSON string, so it cannot forge a frame, the envelope or the
other stream. Only what pump() keeps is framed, so the output caps hold; and at most LIVE_BYTES of
each stream, so that the log the controller may have to read the envelope from stays bounded (the
whole output, to its cap, comes with the outcome). The frame that reaches a limit says so."""
import codecs
import json

MARK = "scriptrunOutput"
LIVE_BYTES = 256 * 1024
PIECE = 8192


class Frames:
    def __init__(self, out):
        self.out = out  # binary: sys.stdout.buffer
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in ("stdout", "stderr")}
        self.done = {"stdout": False, "stderr": False}

    def chunk(self, stream, offset, data, cut=False):
        """`data`, kept by pump() at byte `offset` of `stream`; `cut`: the stream's output cap was
        reached, and nothing more of it is kept."""
        if self.done[stream]:
            return
        live = data[:max(0, LIVE_BYTES - offset)]
        stopped = "output_limit" if cut else ("live_limit" if len(live) < len(data) else None)
        for at in range(0, max(len(live), 1), PIECE):
            piece = live[at:at + PIECE]
            last = at + PIECE >= len(live)
            if not piece and not (last and stopped):
                break
            frame = {MARK: 1, "stream": stream, "offset": offset + at, "bytes": len(piece),
                     "text": self.decoders[stream].decode(piece, final=bool(last and stopped))}
            if last and stopped:
                frame["stopped"] = stopped
                self.done[stream] = True
            self.out.write((json.dumps(frame, ensure_ascii=False) + "\n").encode("utf-8"))
        self.out.flush()
