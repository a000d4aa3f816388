// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the
// lease when it is free or its holder has not renewed it for a whole lease duration (measured on
// this replica's clock from when it last saw the lease change, so clocks need not agree); the
// leader renews it every renew period and gives up leadership when it could not renew for
// two thirds of the lease duration; on graceful shutdown it releases the lease at once.
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ConfigurationOptions, CoordinationV1Api, type KubeConfig, type ObservableMiddleware, V1MicroTime, type V1Lease, type V1LeaseSpec,
} from "@kubernetes/client-node";
import { ownConnections, statusCode, within } from "../core/kube.js";
import type { Logger } from "../core/log.js";
import { toMillis } from "../core/time.js";
import type { Config } from "./config.js";

export type LeaseSettings = Config["leaderElection"];

/** When this replica last saw the lease's holder or renew time change. */
export interface Observed {
  record: string;
  atMs: number;
}

export function observe(spec: V1LeaseSpec | undefined, previous: Observed | undefined, nowMs: number): Observed {
  const record = `${spec?.holderIdentity ?? ""}@${toMillis(spec?.renewTime) ?? ""}`;
  return previous?.record === record ? previous : { record, atMs: nowMs };
}

/** Whether `identity` may take (or keep) the lease. */
export function mayHold(spec: V1LeaseSpec | undefined, identity: string, observed: Observed, nowMs: number, defaultDurationSeconds: number): boolean {
  const holder = spec?.holderIdentity;
  if (!holder || holder === identity) return true;
  return nowMs >= observed.atMs + (spec?.leaseDurationSeconds ?? defaultDurationSeconds) * 1000;
}

/** The lease spec after `identity` took or renewed it. */
export function heldBy(spec: V1LeaseSpec | undefined, identity: string, nowMs: number, durationSeconds: number): V1LeaseSpec {
  const now = new V1MicroTime(nowMs);
  if (spec?.holderIdentity === identity) return { ...spec, leaseDurationSeconds: durationSeconds, renewTime: now };
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: (spec?.leaseTransitions ?? 0) + (spec?.holderIdentity ? 1 : 0),
  };
}

export class LeaderElector {
  private observed: Observed | undefined;

  constructor(private readonly api: CoordinationV1Api, private readonly settings: LeaseSettings, private readonly log: Logger) {}

  /** An elector for the cluster of `kc` whose calls have connections of their own (ownConnections):
   * on `kc`'s, a renewal would queue behind the controller's calls, a relist's reads among them,
   * and could wait out its deadline while the cluster answers. */
  static forCluster(kc: KubeConfig, settings: LeaseSettings, log: Logger): LeaderElector {
    return new LeaderElector(ownConnections(kc).makeApiClient(CoordinationV1Api), settings, log);
  }

  /** Waits until this replica leads (true) or `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.log.info({ lease: this.leaseKey(), identity: this.settings.identity }, "Started standing for leader");
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(within(this.settings.leaseDurationSeconds * 1000)).catch((err: unknown) => this.failed(err))) {
        this.log.info({ lease: this.leaseKey(), identity: this.settings.identity }, "Became leader");
        return true;
      }
      await sleep(this.settings.renewPeriodSeconds * 1000, undefined, { signal }).catch(() => undefined);
    }
    return false;
  }

  /** Renews the lease until it cannot ("lost") or `signal` aborts ("stopped"). Each renewal has
   * only the time left before the deadline: one that hangs (on a connection that died without a
   * word) cannot keep this replica leading after another may have taken the lease. After a failed
   * renewal the next comes a renew period later, or at the deadline if that is sooner, where
   * leadership is given up: never a renew period past it. */
  async hold(signal: AbortSignal): Promise<"lost" | "stopped"> {
    const deadlineMs = (this.settings.leaseDurationSeconds * 1000 * 2) / 3;
    const periodMs = this.settings.renewPeriodSeconds * 1000;
    let renewedMs = Date.now();
    let pauseMs = periodMs;
    while (!signal.aborted) {
      await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      const left = deadlineMs - (Date.now() - renewedMs);
      if (left <= 0) {
        this.log.warn({ lease: this.leaseKey(), identity: this.settings.identity }, "Lost leadership");
        return "lost";
      }
      if (await this.tryAcquireOrRenew(within(left)).catch((err: unknown) => this.failed(err))) {
        renewedMs = Date.now();
        pauseMs = periodMs;
      } else {
        pauseMs = Math.min(periodMs, Math.max(0, deadlineMs - (Date.now() - renewedMs)));
      }
    }
    return "stopped";
  }

  /** Gives the lease up so another replica need not wait for it to expire; past a lease duration
   * there is nothing left to give up, and the shutdown waits no longer. */
  async release(): Promise<void> {
    const options = within(this.settings.leaseDurationSeconds * 1000);
    try {
      const lease = await this.api.readNamespacedLease({ name: this.settings.leaseName, namespace: this.settings.leaseNamespace }, options);
      if (lease.spec?.holderIdentity !== this.settings.identity) return;
      const now = new V1MicroTime();
      await this.api.replaceNamespacedLease({
        name: this.settings.leaseName, namespace: this.settings.leaseNamespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
      }, options);
      this.log.info({ lease: this.leaseKey() }, "Released leader lease");
    } catch (err) {
      this.log.warn({ lease: this.leaseKey(), err: String(err) }, "Failed to release leader lease");
    }
  }

  private leaseKey(): string {
    return `${this.settings.leaseNamespace}/${this.settings.leaseName}`;
  }

  private failed(err: unknown): false {
    this.log.warn({ lease: this.leaseKey(), err: String(err) }, "Failed to read or write leader lease");
    return false;
  }

  private async tryAcquireOrRenew(options: ConfigurationOptions<ObservableMiddleware>): Promise<boolean> {
    const { leaseName: name, leaseNamespace: namespace, identity, leaseDurationSeconds } = this.settings;
    const nowMs = Date.now();
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace }, options);
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    this.observed = observe(lease?.spec, this.observed, nowMs);
    if (!mayHold(lease?.spec, identity, this.observed, nowMs, leaseDurationSeconds)) return false;
    const spec = heldBy(lease?.spec, identity, nowMs, leaseDurationSeconds);
    try {
      if (lease) await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } }, options);
      else await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } }, options);
    } catch (err) {
      // 409: another replica wrote the lease first (our resourceVersion was stale).
      if (statusCode(err) === 409) return false;
      throw err;
    }
    return true;
  }
}
