// Kubernetes Events on a ScriptRun, so `kubectl describe sr NAME` tells its story (created pod,
// queued, succeeded, failed with the error type). Recording an event never fails a reconcile.
import type { CoreV1Event } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import { API_VERSION, KIND, type ScriptRun } from "../crds/schema.js";
import type { Kube } from "./kube.js";

export const COMPONENT = "scriptrun-controller";

export interface EventNote {
  type: "Normal" | "Warning";
  /** CamelCase, e.g. Created, Queued, Succeeded, Timeout. */
  reason: string;
  message: string;
}

const MAX_MESSAGE = 1024;

export function buildEvent(run: ScriptRun, note: EventNote, now: Date, instance: string): CoreV1Event {
  const { name = "", namespace = "", uid, resourceVersion } = run.metadata;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      // The apiserver's own convention: the object's name and a unique, time-ordered suffix.
      name: `${name}.${now.getTime().toString(16)}${Math.random().toString(16).slice(2, 6)}`,
      namespace,
    },
    involvedObject: { apiVersion: API_VERSION, kind: KIND, name, namespace, uid, resourceVersion },
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
  constructor(private readonly kube: Kube, private readonly log: Logger, private readonly instance: string) {}

  async record(run: ScriptRun, note: EventNote): Promise<void> {
    try {
      await this.kube.createEvent(buildEvent(run, note, new Date(), this.instance));
    } catch (err) {
      this.log.warn({ run: `${run.metadata.namespace}/${run.metadata.name}`, reason: note.reason, err: String(err) }, "Failed to record an event");
    }
  }
}
