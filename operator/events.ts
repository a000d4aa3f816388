// Kubernetes Events on a ScriptRun, so `kubectl describe sr NAME` tells its story (created pod,
// queued, succeeded, failed with the error type), and on a ScriptRuntime (its problems). A
// runtime is cluster-scoped: its events go to the controller's own namespace, where kubectl
// describe srt finds them too. Recording an event never fails a reconcile.
import { createHash } from "node:crypto";
import type { CoreV1Event } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import { RUNTIME_KIND, type ScriptRuntime } from "../crds/runtime.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import type { Kube } from "./kube.js";

export const COMPONENT = "scriptrun-controller";

export interface EventNote {
  type: "Normal" | "Warning";
  /** CamelCase, e.g. Created, Queued, Succeeded, Timeout. */
  reason: string;
  message: string;
  /** Set for an event that happens once in an object's life (its start, say): the event's name is
   * then derived from it, so a controller that records it again after a restart, not knowing
   * whether the one before it did, leaves one event, not two. */
  once?: string;
}

const MAX_MESSAGE = 1024;

/** An event on a run, or on a runtime (`runtime`, recorded in `eventNamespace`). */
export function buildEvent(object: ScriptRun | ScriptRuntime, note: EventNote, now: Date, instance: string,
  kind: string = KIND, eventNamespace?: string): CoreV1Event {
  const { name = "", namespace = eventNamespace ?? "", uid, resourceVersion } = object.metadata;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      // The apiserver's own convention: the object's name and a unique, time-ordered suffix.
      name: `${name}.${note.once === undefined ? `${now.getTime().toString(16)}${Math.random().toString(16).slice(2, 6)}`
        : createHash("sha256").update(`${uid ?? ""}/${note.once}`).digest("hex").slice(0, 16)}`,
      namespace,
    },
    involvedObject: { apiVersion: API_VERSION, kind, name, ...(kind === KIND ? { namespace } : {}), uid, resourceVersion },
    type: note.type,
    reason: note.reason,
    message: note.message.length > MAX_MESSAGE ? `${note.message.slice(0, MAX_MESSAGE - 1)}…` : note.message,
    source: { component: COMPONENT },
    reportingComponent: COMPONENT,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

export class EventRecorder {
  constructor(private readonly kube: Kube, private readonly log: Logger, private readonly instance: string,
    private readonly ownNamespace: string) {}

  async record(run: ScriptRun, note: EventNote): Promise<void> {
    await this.create(buildEvent(run, note, new Date(), this.instance), { run: `${run.metadata.namespace}/${run.metadata.name}` });
  }

  async recordOnRuntime(runtime: ScriptRuntime, note: EventNote): Promise<void> {
    await this.create(buildEvent(runtime, note, new Date(), this.instance, RUNTIME_KIND, this.ownNamespace), { runtime: runtime.metadata.name });
  }

  private async create(event: CoreV1Event, about: Record<string, unknown>): Promise<void> {
    try {
      await this.kube.createEvent(event);
    } catch (err) {
      this.log.warn({ ...about, reason: event.reason, err: String(err) }, "Failed to record an event");
    }
  }
}
