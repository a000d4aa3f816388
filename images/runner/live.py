"""Live output (runner.py --live-output): what the script prints, framed as it comes, one JSON line per
piece on the runner's stdout, ahead of the envelope. The API follows the log and passes each frame on
to the run's watchers as an `output` event. Frames and envelope share one stream because the
container log keeps order only within a stream, and cuts a long line (the envelope) into records
that a frame on the other stream, written earlier, could still land among.

The script's text travels inside a JSON string, so it cannot forge a frame, the envelope or the
other stream. Only what pump() keeps is framed, so the output caps hold; and at most LIVE_BYTES of
each stream, in at most FRAMED_BYTES of frames, so that the log the controller may have to read the
envelope from stays bounded (the whole output, to its cap, comes with the outcome): a script that
prints a byte at a time makes a frame of some 80 bytes for each, and JSON spells a control
character in six. The frame that reaches a limit says so.

A frame's `offset` and `bytes` count the UTF-8 bytes of the text framed, as the outcome's stdout and
stderr (decoded once, bytes that are no UTF-8 each made U+FFFD) have them, not the bytes the script
wrote: a watcher that had the live part takes the rest from the outcome at that offset, and a
reconnect resumes there, however the script's bytes decode."""
import codecs
import json

MARK = "scriptrunOutput"
LIVE_BYTES = 256 * 1024
# The frames' own bytes for each stream, lines and all: LIVE_BYTES of text each JSON spells in up to
# six, which the controller allows for beside the envelope (core/liveOutput.ts LIVE_LOG_BYTES).
FRAMED_BYTES = 6 * LIVE_BYTES
PIECE = 8192
# Kept for the frame that says the live stream stopped.
LAST_FRAME_ROOM = 256


class Frames:
    def __init__(self, out):
        self.out = out  # binary: sys.stdout.buffer
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in ("stdout", "stderr")}
        self.done = {"stdout": False, "stderr": False}
        self.framed = {"stdout": 0, "stderr": 0}
        # UTF-8 bytes of the text framed so far: the next frame's offset.
        self.sent = {"stdout": 0, "stderr": 0}

    def chunk(self, stream, offset, data, cut=False):
        """`data`, kept by pump() at byte `offset` of `stream`; `cut`: the stream's output cap was
        reached, and nothing more of it is kept."""
        if self.done[stream]:
            return
        live = data[:max(0, LIVE_BYTES - offset)]
        # Cut at the live limit, the frames end there, whatever the output cap does later in the data.
        stopped = "live_limit" if len(live) < len(data) else ("output_limit" if cut else None)
        for at in range(0, max(len(live), 1), PIECE):
            piece = live[at:at + PIECE]
            ends = bool(at + PIECE >= len(live) and stopped)
            if not piece and not ends:
                break
            # At the output cap the outcome's text ends here too, a character cut short there made
            # U+FFFD; at the live limit it goes on, and a character cut there is the outcome's to tell.
            text = self.decoders[stream].decode(piece, final=stopped == "output_limit" and ends)
            if not text and not ends:
                continue  # the start of a character, whose end comes with the next read
            frame = {MARK: 1, "stream": stream, "offset": self.sent[stream], "bytes": len(text.encode("utf-8")), "text": text}
            if ends:
                frame["stopped"] = stopped
                self.done[stream] = True
            line = (json.dumps(frame, ensure_ascii=False) + "\n").encode("utf-8")
            if self.framed[stream] + len(line) > FRAMED_BYTES - LAST_FRAME_ROOM:
                # No room for this piece: the live stream stops before it.
                frame.update(bytes=0, text="", stopped="live_limit")
                line = (json.dumps(frame) + "\n").encode("utf-8")
                self.done[stream] = True
            self.framed[stream] += len(line)
            self.sent[stream] += frame["bytes"]
            self.out.write(line)
            if self.done[stream]:
                break
        self.out.flush()
