// Server-Sent Events, read as the HTML standard's EventSource reads them: lines end with CRLF, LF
// or CR; `data` lines join with newlines; a blank line dispatches; lines starting with ':' are
// comments (the API's heartbeats); `retry` sets the reconnection delay; `id` is remembered for
// Last-Event-ID, even across messages that do not repeat it, but only once a blank line ends its
// message: an id whose message never came whole must not be sent back as received.
import type { SseMessage } from "./events.js";

export interface SseState {
  /** The last event id the stream set, as of its last blank line; sent back as Last-Event-ID on reconnect. */
  lastEventId?: string;
  /** The reconnection delay the stream asked for, in milliseconds. */
  retryMs?: number;
}

/** Parses `chunks` of a stream into messages, updating `state` as `retry` fields and blank lines come. */
export async function* sseMessages(chunks: AsyncIterable<Uint8Array | string>, state: SseState): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  // The standard's "last event ID buffer", committed to `state` by each blank line.
  let id = state.lastEventId;
  let pendingCR = false;

  const line = (text: string): SseMessage | undefined => {
    if (text === "") {
      if (id !== undefined) state.lastEventId = id;
      const message = data.length > 0
        ? { event: event || "message", data: data.join("\n"), ...(state.lastEventId !== undefined ? { id: state.lastEventId } : {}) }
        : undefined;
      event = "";
      data = [];
      return message;
    }
    if (text.startsWith(":")) return undefined;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) id = value;
    else if (field === "retry" && /^\d+$/.test(value)) state.retryMs = Number(value);
    return undefined;
  };

  for await (const chunk of chunks) {
    buffer += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer[i];
      if (c === "\n" && pendingCR) {
        // The LF of a CRLF whose CR ended the line already.
        pendingCR = false;
        start = i + 1;
        continue;
      }
      pendingCR = false;
      if (c !== "\n" && c !== "\r") continue;
      pendingCR = c === "\r";
      const message = line(buffer.slice(start, i));
      start = i + 1;
      if (message) yield message;
    }
    buffer = buffer.slice(start);
  }
  // A message not ended by a blank line when the stream ends is dropped, as EventSource does.
}
