// What a chaos scenario sees of its namespace while faults come and go. Pods through a watch that
// resumes from the last resourceVersion it saw after every break (an apiserver restart, etcd gone),
// so that no pod made and deleted between two looks goes unseen; runs by listing them twice a
// second, so a run's end is timed within half a second of the apiserver showing it even while
// watches are down and backing off.
import { setTimeout as sleep } from "node:timers/promises";
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import { KIND } from "../../crds/schema.js";
import { RUN_LABEL, RUNNER_CONTAINER } from "../../operator/names.js";
import { core, custom } from "../cluster/kube.js";
import type { PodTrace, RunView } from "./tally.js";

const RUNS = { group: "scriptrun.dev", version: "v1alpha1", plural: "scriptruns" };
const POLL_MS = 500;
const RETRY_MS = 500;

interface RawPod {
  metadata?: { uid?: string; name?: string; resourceVersion?: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind?: string; uid?: string; controller?: boolean }> };
  status?: { containerStatuses?: Array<{ name?: string; state?: { running?: object; terminated?: { startedAt?: string | Date; message?: string } } }> };
}

const UNRUN = /"unrun"\s*:\s*true/;

/** Every pod of a namespace over a scenario, by uid, keeping what once was true of each. */
export class PodLedger {
  private readonly pods = new Map<string, PodTrace>();
  private resourceVersion: string | undefined;
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(private readonly kc: KubeConfig, private readonly namespace: string) {}

  async start(): Promise<void> {
    await this.relist();
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  traces(): PodTrace[] {
    return [...this.pods.values()];
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const ended = await this.watchOnce();
      if (this.stopped) return;
      // The watch's resourceVersion is too old to resume from (410): start over from a list.
      if (ended === "expired") await this.relist().catch(() => undefined);
      await sleep(RETRY_MS);
    }
  }

  /** Resolves when the watch ends: "expired" when it must start again from a list. */
  private watchOnce(): Promise<"ended" | "expired"> {
    return new Promise((resolve) => {
      let expired = false;
      const watching = new Watch(this.kc).watch(`/api/v1/namespaces/${this.namespace}/pods`,
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
        (type, obj: RawPod & { code?: number }) => {
          if (type === "ERROR") {
            expired = obj.code === 410;
            return;
          }
          this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
          if (type !== "BOOKMARK") this.record(obj);
        },
        // A resourceVersion too old comes as an ERROR event, or as the answer's own status.
        (err: { statusCode?: number } | null) => resolve(expired || err?.statusCode === 410 ? "expired" : "ended"));
      watching.then((abort) => {
        this.abort = abort;
        if (this.stopped) abort.abort();
      }, () => resolve("ended"));
    });
  }

  private async relist(): Promise<void> {
    const list = await core.listNamespacedPod({ namespace: this.namespace });
    for (const pod of list.items) this.record(pod as RawPod);
    this.resourceVersion = list.metadata?.resourceVersion;
  }

  private record(pod: RawPod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const trace = this.pods.get(uid) ?? { uid, name: pod.metadata?.name ?? "", started: false, unrun: false };
    const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === KIND && o.controller === true)?.uid;
    if (owner) trace.runUid = owner;
    const run = pod.metadata?.labels?.[RUN_LABEL];
    if (run) trace.run = run;
    const state = pod.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER)?.state;
    const terminated = state?.terminated;
    // A container that could not start is terminated with no real start time.
    if (state?.running || (terminated?.startedAt && new Date(terminated.startedAt).getTime() > 0)) trace.started = true;
    if (terminated?.message && UNRUN.test(terminated.message)) trace.unrun = true;
    this.pods.set(uid, trace);
  }
}

interface RawRun {
  metadata: { name?: string; uid?: string };
  status?: { phase?: string; result?: unknown; stdout?: string; error?: { type: string; message: string }; start?: string; podName?: string };
}

/** A run as last listed: its view, and the pod its status names. */
export type Listed = RunView & { podName?: string };

/** Every run of a namespace as last listed, and when each was first seen finished. */
export class RunPoller {
  private readonly views = new Map<string, Listed>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(private readonly namespace: string) {}

  start(): void {
    const tick = () => {
      this.polling = this.poll().catch(() => undefined).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, POLL_MS);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  runs(): ReadonlyMap<string, Listed> {
    return this.views;
  }

  /** Whether every one of `names` has finished (as last listed). */
  allFinished(names: readonly string[]): boolean {
    return names.every((name) => this.views.get(name)?.endedAt !== undefined);
  }

  private async poll(): Promise<void> {
    const list = await custom.listNamespacedCustomObject({ ...RUNS, namespace: this.namespace }) as { items: RawRun[] };
    const now = Date.now();
    for (const run of list.items) {
      const name = run.metadata.name ?? "";
      const before = this.views.get(name);
      const { phase, result, stdout, error, start, podName } = run.status ?? {};
      const finished = phase === "Succeeded" || phase === "Failed";
      this.views.set(name, {
        uid: run.metadata.uid ?? "", phase, result, stdout, error, start, podName,
        endedAt: before?.endedAt ?? (finished ? now : undefined),
      });
    }
  }
}

/** The pods the controller said ran nothing (its WarmPodUnused events in the namespace). */
export async function unusedPods(namespace: string): Promise<Set<string>> {
  const events = await core.listNamespacedEvent({ namespace, fieldSelector: "reason=WarmPodUnused" });
  return new Set(events.items.flatMap((e) => /^Warm pod (\S+) ran nothing/.exec(e.message ?? "")?.[1] ?? []));
}
