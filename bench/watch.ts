// How the bench learns that something happened in the cluster: watches, never polling, so a
// time is when the apiserver's event arrived (performance.now()), not the next tick of a poll.
// Each watch is the self-restarting informer cache the controller and the API use
// (operator/watchedCache.ts), over one namespace.
import type { KubeConfig, KubernetesObject, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../core/log.js";
import { type Source, WatchedCache } from "../core/watchedCache.js";

export interface Seen<T> {
  obj: T;
  /** performance.now() when the event arrived. */
  at: number;
}

interface Waiting<T> {
  done: (obj: T) => boolean;
  resolve: (seen: Seen<T>) => void;
}

/** A watch of one kind of object in one namespace, which callers can wait on. */
export class ObjectWatch<T extends KubernetesObject> {
  private readonly cache: WatchedCache<T>;
  private readonly waiting = new Map<string, Set<Waiting<T>>>();
  /** Callers waiting for an object to be gone, by name. */
  private readonly goneWaiting = new Map<string, Set<() => void>>();

  /** `onChange` is told of every added or changed object, with when its event arrived; `onDelete`
   * of every deleted one. */
  constructor(kc: KubeConfig, source: Source<T>, log: Logger, private readonly onChange?: (obj: T, at: number) => void,
    onDelete?: (obj: T, at: number) => void) {
    this.cache = new WatchedCache<T>(kc, source, {
      changed: (obj) => this.changed(obj, performance.now()),
      deleted: (obj) => {
        onDelete?.(obj, performance.now());
        this.gone(obj.metadata?.name ?? "");
      },
      // Events may have been missed while the watch restarted: look again at what is awaited.
      resynced: () => {
        for (const name of this.waiting.keys()) {
          const obj = this.get(name);
          if (obj) this.changed(obj, performance.now());
        }
        for (const name of this.goneWaiting.keys()) if (!this.get(name)) this.gone(name);
      },
    }, log);
  }

  /** Resolves once the first list is in. */
  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  /** Every object the watch holds now. */
  list(): readonly T[] {
    return this.cache.list();
  }

  /** The object named `name`, as the watch holds it now. The cache's get() wants the namespace
   * (without one it looks among cluster-scoped objects), which the watch's one namespace implies. */
  get(name: string): T | undefined {
    return this.cache.list().find((obj) => obj.metadata?.name === name);
  }

  /** Resolves when the object named `name` satisfies `done` (at once if it already does). */
  waitFor(name: string, done: (obj: T) => boolean, timeoutMs: number): Promise<Seen<T>> {
    const now = this.get(name);
    if (now && done(now)) return Promise.resolve({ obj: now, at: performance.now() });
    return new Promise((resolve, reject) => {
      const set = this.waiting.get(name) ?? new Set();
      this.waiting.set(name, set);
      const entry: Waiting<T> = {
        done,
        resolve: (seen) => {
          clearTimeout(timer);
          resolve(seen);
        },
      };
      const timer = setTimeout(() => {
        this.forget(name, entry);
        reject(new Error(`${name} was not done within ${timeoutMs} ms`));
      }, timeoutMs);
      set.add(entry);
    });
  }

  /** Resolves when the object named `name` is gone (at once if the watch holds none). */
  waitForGone(name: string, timeoutMs: number): Promise<void> {
    if (!this.get(name)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const set = this.goneWaiting.get(name) ?? new Set();
      this.goneWaiting.set(name, set);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        set.delete(done);
        if (set.size === 0) this.goneWaiting.delete(name);
        reject(new Error(`${name} was not gone within ${timeoutMs} ms`));
      }, timeoutMs);
      set.add(done);
    });
  }

  private gone(name: string): void {
    const set = this.goneWaiting.get(name);
    this.goneWaiting.delete(name);
    for (const done of set ?? []) done();
  }

  private changed(obj: T, at: number): void {
    this.onChange?.(obj, at);
    const name = obj.metadata?.name ?? "";
    for (const entry of this.waiting.get(name) ?? []) {
      if (!entry.done(obj)) continue;
      this.forget(name, entry);
      entry.resolve({ obj, at });
    }
  }

  private forget(name: string, entry: Waiting<T>): void {
    const set = this.waiting.get(name);
    set?.delete(entry);
    if (set?.size === 0) this.waiting.delete(name);
  }
}

export interface PodLife {
  /** When the pod was first seen: it exists. */
  created: number;
  /** When its first container was first seen terminated. */
  done?: number;
}

/** When each pod was first seen and first seen finished, by the name of its owner (the ScriptRun
 * or the Job): the pod's own life as the cluster reports it, to subtract from a path's total. */
export class PodTimeline {
  private readonly lives = new Map<string, PodLife>();

  record(pod: V1Pod, at: number): void {
    const owner = pod.metadata?.ownerReferences?.[0]?.name;
    if (!owner) return;
    const life = this.lives.get(owner) ?? { created: at };
    this.lives.set(owner, life);
    if (life.done === undefined && pod.status?.containerStatuses?.[0]?.state?.terminated) life.done = at;
  }

  of(owner: string): PodLife | undefined {
    return this.lives.get(owner);
  }
}

/** What the bench's watch saw of a ScriptRun: when it first appeared, first showed Running and
 * first showed finished, and how its status says it started (warm or cold). */
export interface RunLife {
  created: number;
  running?: number;
  finished?: number;
  start?: string;
}

interface WatchedRun {
  metadata?: { name?: string };
  status?: { phase?: string; start?: string };
}

/** Each ScriptRun's life as the bench's watch saw it, by name. */
export class RunTimeline {
  private readonly lives = new Map<string, RunLife>();

  record(run: WatchedRun, at: number): void {
    const name = run.metadata?.name;
    if (!name) return;
    const life = this.lives.get(name) ?? { created: at };
    this.lives.set(name, life);
    const phase = run.status?.phase;
    if (run.status?.start !== undefined) life.start = run.status.start;
    if (life.running === undefined && phase === "Running") life.running = at;
    if (life.finished === undefined && (phase === "Succeeded" || phase === "Failed")) life.finished = at;
  }

  of(name: string): RunLife | undefined {
    return this.lives.get(name);
  }
}
