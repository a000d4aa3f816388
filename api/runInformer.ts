// The API's one watch of ScriptRuns in every namespace (a client-node informer), feeding the
// waiter. client-node informers can stop, or stop silently, so an informer that reports an error
// is restarted with a capped backoff (one restart pending at a time), and on a timer a freshly
// listed informer replaces the current one. Each successful (re)start tells the listener to
// re-check what it waits for, since events may have been missed meanwhile.
import {
  ADD, DELETE, ERROR, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache, UPDATE,
  makeInformer,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, type ScriptRun, VERSION } from "../crds/schema.js";
import type { Logger } from "../operator/log.js";
import type { RunListener, RunWatch } from "./runStore.js";

const PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
const MAX_BACKOFF_MS = 30_000;

// Typed as client-node's objects; what they carry are ScriptRuns (timestamps arrive as strings).
type RunCache = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
const asRun = (obj: KubernetesObject) => obj as unknown as ScriptRun;

export interface RunInformerOptions {
  relistMs: number;
  log: Logger;
  /** Lists every ScriptRun (the informer's initial list and re-lists). */
  list: () => Promise<unknown>;
}

export class RunInformer implements RunWatch {
  private informer: RunCache | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private stopped = false;
  private isSynced = false;

  constructor(private readonly kc: KubeConfig, private readonly listener: RunListener, private readonly options: RunInformerOptions) {}

  get synced(): boolean {
    return this.isSynced;
  }

  start(): void {
    this.informer = this.make();
    void this.run(this.informer);
    this.relistTimer = setInterval(() => void this.relist(), this.options.relistMs);
    this.relistTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.isSynced = false;
    clearTimeout(this.restartTimer);
    clearInterval(this.relistTimer);
    await this.informer?.stop();
  }

  private make(): RunCache {
    const informer = makeInformer(this.kc, PATH, this.options.list as () => Promise<KubernetesListObject<KubernetesObject>>);
    // Changes from an informer being swapped in count too: the listener takes duplicates in its stride.
    informer.on(ADD, (obj) => this.listener.changed(asRun(obj)));
    informer.on(UPDATE, (obj) => this.listener.changed(asRun(obj)));
    informer.on(DELETE, (obj) => this.listener.deleted(asRun(obj)));
    informer.on(ERROR, (err) => {
      if (informer === this.informer) this.scheduleRestart(err);
    });
    return informer;
  }

  /** Starts an informer; true when it listed and began watching without an error. */
  private async run(informer: RunCache): Promise<boolean> {
    let failed = false;
    const onError = () => {
      failed = true;
    };
    informer.on(ERROR, onError);
    try {
      await informer.start();
    } catch (err) {
      failed = true;
      if (informer === this.informer) this.scheduleRestart(err);
    } finally {
      informer.off(ERROR, onError);
    }
    if (failed || this.stopped) return false;
    this.backoffMs = 0;
    if (informer === this.informer) this.resynced();
    return true;
  }

  private resynced(): void {
    this.isSynced = true;
    this.listener.resynced();
  }

  /** Lists afresh with a new informer and swaps it in: a guard against a watch that stopped silently. */
  private async relist(): Promise<void> {
    if (this.stopped) return;
    const next = this.make();
    if (!(await this.run(next)) || this.stopped) {
      await next.stop();
      return;
    }
    const old = this.informer;
    this.informer = next;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await old?.stop();
    this.resynced();
  }

  private scheduleRestart(err: unknown): void {
    this.isSynced = false;
    if (this.stopped || this.restartTimer) return;
    this.backoffMs = Math.min(Math.max(1000, this.backoffMs * 2), MAX_BACKOFF_MS);
    this.options.log.warn({ err: String(err), retryInMs: this.backoffMs }, "Watch of ScriptRuns failed; restarting it");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.informer) void this.run(this.informer);
    }, this.backoffMs);
  }
}
