// One informer's cache that keeps itself alive, shared by the controller and the API: client-node's
// ListWatch, watching through core/kube.ts's LineWatch. Informers can stop, or stop silently, so an
// informer that reports an error is restarted with a capped backoff (one restart pending at a
// time), and `relist` swaps in a freshly listed informer (callers do that on a timer). Each successful (re)list calls `resynced`, since
// events may have been missed meanwhile. Objects are cached without their managedFields: nothing
// here reads them, and they are half of a finished ScriptRun's JSON and more of its memory.
// A relist keeps the cached object for each one listed at the same resourceVersion, and tells the
// listener only of what changed, as client-go's informers do: with 10 000 finished runs, a relist
// that told of each one queued 10 000 reconciles ahead of new runs, and held two copies of the cache.
import {
  ADD, DELETE, ERROR, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject,
  ListWatch, type ObjectCache, UPDATE,
} from "@kubernetes/client-node";
import { LineWatch } from "./kube.js";
import type { Logger } from "./log.js";

const MAX_BACKOFF_MS = 30_000;
// Objects missing from a relist are read again this many at a time.
const CONFIRM_CONCURRENCY = 16;

function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (obj.metadata) delete obj.metadata.managedFields;
  return obj;
}

export interface Source<T extends KubernetesObject> {
  /** Named in logs. */
  what: string;
  path: string;
  /** Lists every object, passing each through `reuse` as it arrives (a page at a time where the
   * list pages), so that an unchanged object is kept once, not parsed into a second copy. */
  list: (reuse: (obj: T) => T) => Promise<KubernetesListObject<T>>;
  /** Reads one object from the apiserver (bounded in time); undefined when it is gone (404).
   * Without it, a relist reports no deletion its watch did not see. */
  read?: (name: string, namespace?: string) => Promise<T | undefined>;
  labelSelector?: string;
  /** Trims an object to what its readers need before it is cached (in place; managedFields are
   * gone already). */
  trim?: (obj: T) => T;
}

export interface CacheListener<T> {
  changed(obj: T): void;
  deleted(obj: T): void;
  /** A (re)list completed: events may have been missed before it. */
  resynced?(): void;
}

const keyOf = (name: string, namespace?: string) => `${namespace ?? ""}/${name}`;

export class WatchedCache<T extends KubernetesObject> implements ObjectCache<T> {
  private informer: Informer<T> & ObjectCache<T>;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private stopped = false;
  private isSynced = false;
  /** Objects missing from a relist whose re-read failed, by uid: read again at the next one. */
  private readonly unconfirmed = new Map<string, T>();
  /** Objects missing from the latest relist, by namespace/name, as the cache had them, while they
   * are read again: until then they are still there (a run created after the list was taken
   * must not look deleted to a reconcile meanwhile). */
  private readonly confirming = new Map<string, T>();
  /** Each informer's LineWatch, which alone can end a watch the informer is still waiting for. */
  private readonly watches = new WeakMap<Informer<T>, LineWatch>();
  private markSynced!: () => void;
  private readonly firstSync = new Promise<void>((resolve) => {
    this.markSynced = resolve;
  });

  constructor(private readonly kc: KubeConfig, private readonly source: Source<T>,
    private readonly listener: CacheListener<T>, private readonly log: Logger) {
    this.informer = this.make();
  }

  /** True while the cache holds a full list and its watch has reported no error since. */
  get synced(): boolean {
    return this.isSynced;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace) ?? (this.confirming.size > 0 ? this.confirming.get(keyOf(name, namespace)) : undefined);
  }

  list(namespace?: string): readonly T[] {
    const listed = this.informer.list(namespace);
    if (this.confirming.size === 0) return listed;
    const still = [...this.confirming.values()].filter((obj) => (namespace === undefined || obj.metadata?.namespace === namespace)
      && !this.informer.get(obj.metadata?.name ?? "", obj.metadata?.namespace));
    return [...listed, ...still];
  }

  /** Resolves once the cache holds a full list (retrying as long as it takes), or on stop. */
  async start(): Promise<void> {
    void this.run(this.informer);
    await this.firstSync;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.isSynced = false;
    clearTimeout(this.restartTimer);
    this.markSynced();
    await this.halt(this.informer);
  }

  /** Stops an informer and every watch of it, one still waiting for its answer too. */
  private async halt(informer: Informer<T> & ObjectCache<T>): Promise<void> {
    this.watches.get(informer)?.stop();
    await informer.stop();
  }

  /** Lists afresh with a new informer and swaps it in. Its adds report every object that changed
   * meanwhile (an unchanged one is the cached object itself, see `reuse`). An object
   * only the old one knew was either deleted unseen or created after the new list was taken (its
   * event is still on the way), so each is read again and reported deleted only when it is gone;
   * until then, and after a read that found it until the watch tells of it, the cache still shows
   * it. One that could not be read is read again at the next relist. */
  async relist(): Promise<void> {
    if (this.stopped) return;
    const next = this.make();
    if (!(await this.run(next)) || this.stopped) {
      await this.halt(next);
      return;
    }
    const old = this.informer;
    this.informer = next;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.halt(old);
    // What an earlier relist still shows unconfirmed (read then, its watch event never came) is read again too.
    const unlisted = new Map([...this.unconfirmed, ...[...this.confirming.values(), ...old.list()].map((obj) => [obj.metadata?.uid ?? "", obj] as const)]);
    this.unconfirmed.clear();
    this.resynced();
    const listed = (obj: T) => this.informer.get(obj.metadata?.name ?? "", obj.metadata?.namespace) !== undefined;
    for (const [key, obj] of this.confirming) if (listed(obj)) this.confirming.delete(key);
    const pending = [...unlisted.values()].filter((obj) => !listed(obj));
    for (const obj of pending) this.confirming.set(keyOf(obj.metadata?.name ?? "", obj.metadata?.namespace), obj);
    const confirmOne = async (): Promise<void> => {
      for (let obj = pending.shift(); obj !== undefined; obj = pending.shift()) await this.confirm(obj);
    };
    await Promise.all(Array.from({ length: Math.min(CONFIRM_CONCURRENCY, pending.length) }, confirmOne));
  }

  /** Reports an object the latest list lacked as deleted only if the apiserver no longer has it. */
  private async confirm(obj: T): Promise<void> {
    const { name = "", namespace, uid = "" } = obj.metadata ?? {};
    const key = keyOf(name, namespace);
    if (!this.source.read) {
      this.confirming.delete(key);
      return;
    }
    let now: T | undefined;
    try {
      now = await this.source.read(name, namespace);
    } catch (err) {
      // Unknown: asked again at the next relist; a wrong "deleted" would end waits for a live run.
      this.confirming.delete(key);
      this.unconfirmed.set(uid, obj);
      this.log.warn({ informer: this.source.what, name, namespace, err: String(err) }, "Failed to re-read an object missing from a relist");
      return;
    }
    // The watch may have told of it meanwhile, with news fresher than this read.
    if (this.informer.get(name, namespace)) {
      this.confirming.delete(key);
      return;
    }
    if (now && now.metadata?.uid === uid) {
      // Still there: shown as read until the watch, whose event is on the way, tells of it.
      const read = this.trimmed(now);
      this.confirming.set(key, read);
      this.listener.changed(read);
    } else {
      this.confirming.delete(key);
      this.listener.deleted(obj);
    }
  }

  /** The watch told of an object a relist missed: it speaks for it from now on. */
  private confirmed(obj: T): void {
    if (this.confirming.size > 0) this.confirming.delete(keyOf(obj.metadata?.name ?? "", obj.metadata?.namespace));
  }

  private trimmed(obj: T): T {
    const trim = this.source.trim;
    return trim ? trim(withoutManagedFields(obj)) : withoutManagedFields(obj);
  }

  /** The cached object in place of a listed one of the same version. */
  private readonly reuse = (obj: T): T => {
    const { name = "", namespace, uid, resourceVersion } = obj.metadata ?? {};
    // Undefined only while the constructor makes the first informer, which lists later.
    const cached = (this.informer as typeof this.informer | undefined)?.get(name, namespace);
    return cached && resourceVersion !== undefined && cached.metadata?.uid === uid && cached.metadata?.resourceVersion === resourceVersion
      ? cached : obj;
  };

  private make(): Informer<T> & ObjectCache<T> {
    const { path, list, labelSelector } = this.source;
    const lines = new LineWatch(this.kc);
    const informer = new ListWatch<T>(path, lines, () => list(this.reuse), false, labelSelector);
    this.watches.set(informer, lines);
    // The informer caches the very object it hands its handlers (client-node's cache.ts), so
    // trimming it here trims the cached copy. These handlers are registered first.
    informer.on(ADD, (obj) => {
      if (informer === this.informer) this.confirmed(obj);
      // A relist's add of what the cache holds unchanged: no news.
      if (informer !== this.informer && obj === this.informer.get(obj.metadata?.name ?? "", obj.metadata?.namespace)) return;
      this.listener.changed(this.trimmed(obj));
    });
    informer.on(UPDATE, (obj) => {
      if (informer === this.informer) this.confirmed(obj);
      this.listener.changed(this.trimmed(obj));
    });
    informer.on(DELETE, (obj) => {
      if (informer === this.informer) this.confirmed(obj);
      this.listener.deleted(obj);
    });
    informer.on(ERROR, (err) => {
      if (informer === this.informer) this.scheduleRestart(err);
    });
    return informer;
  }

  /** Starts an informer; true when it listed and began watching without an error. */
  private async run(informer: Informer<T> & ObjectCache<T>): Promise<boolean> {
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
    this.markSynced();
    if (informer === this.informer) this.resynced();
    return true;
  }

  private resynced(): void {
    this.isSynced = true;
    this.listener.resynced?.();
  }

  private scheduleRestart(err: unknown): void {
    this.isSynced = false;
    if (this.stopped || this.restartTimer) return;
    this.backoffMs = Math.min(Math.max(1000, this.backoffMs * 2), MAX_BACKOFF_MS);
    this.log.warn({ informer: this.source.what, err: String(err), retryInMs: this.backoffMs }, "Watch failed; restarting it");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.run(this.informer);
    }, this.backoffMs);
  }
}
