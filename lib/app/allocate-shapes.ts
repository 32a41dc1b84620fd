import type { OwnerChange } from '../core/allocation';
import type { AllocationOutcome } from '../core/outcome';
import type { HostStyle } from '../core/url';
import type { AllocationUser, Owner } from '../core/types';
import type { proposalDetails } from './auto-allocate';
import type { OwnerOptions } from './owner';

// What an allocation is asked with and answers with: the shapes the CLI, the API, run and
// the MCP server share (the answer is the `--json` document of `styxy allocate`).

export interface AllocateInput {
  serviceType: string;
  instanceId?: string;
  port?: number;
  project?: string;
  owner: OwnerOptions;
  dryRun?: boolean;
  /** Accept an auto-allocation without asking, even when require_confirmation is on. */
  yes?: boolean;
  /** When the answer is an already running single instance, wait this long for its port to accept connections. */
  waitReadyMs?: number;
  /** Create an unknown type even when it is a near miss of a known one (`--new-type`). */
  newType?: boolean;
  /** `--block N`: N contiguous ports (2-100) for this one service, all or nothing, released together. */
  block?: number;
  /** How the result's `url` is written; default: the config's `urls.host_style`. */
  hostStyle?: HostStyle;
  /**
   * `run`, and the API's default owner: a sticky reuse or an existing instance comes back as it is,
   * never handed over to `owner`, unless its owner has ended and only a reservation keeps it.
   */
  keepFound?: boolean;
  /** A free-form label recorded on a new allocation (an agent's name, a branch): shown by list and why. */
  label?: string;
  /** The session that asks (`claude-code:<id>`), recorded on a new allocation: `styxy stop --session` ends them all. */
  session?: string;
}

/** The ranges a person accepted for new types, by type: an auto-allocation goes ahead only while its proposal is still this. */
export type AcceptedRanges = Readonly<Record<string, readonly [number, number]>>;

export interface AllocateResult {
  success: true;
  port: number;
  lockId: string;
  serviceType: string;
  instanceId: string;
  project: string;
  owner: Owner;
  allocatedAt: string;
  /** The Unix user that made it (an existing instance's may be another's, in a shared home). */
  user?: AllocationUser;
  /** With a block (`--block N`): every port it holds, `port` first. */
  ports?: number[];
  label?: string;
  session?: string;
  /** What the call came to: see AllocationOutcome (core/allocation.ts). */
  outcome: AllocationOutcome;
  /** Kept beside `outcome` for the callers that read them: outcome `existing`. */
  existing: boolean;
  /** Kept beside `outcome`: outcome `reused` or `claimed`, or an `existing` instance of the caller's own instance id. */
  reused: boolean;
  /**
   * Something already listens on the port: probed for an allocation found (a sticky reuse, an
   * existing instance), so a start script can tell its server already runs; false for a new one,
   * whose port was just found free.
   */
  listening: boolean;
  /** Where the service is reached: `http://localhost:PORT`, or the subdomain style (core/url.ts). */
  url: string;
  /** The type's own names for its port and URL variables (`env` in its config), when it has them. */
  envNames?: { port?: string; url?: string };
  autoAllocated: boolean;
  singleInstance: boolean;
  pruned: number;
  dryRun?: true;
  /** With autoAllocated: the range the new type was given, and how it was placed. */
  newRange?: [number, number];
  autoAllocation?: ReturnType<typeof proposalDetails>;
  existingInstanceId?: string;
  existingPid?: number | null;
  requestedPort?: number;
  /** Why the requested port was not given, when it was not. */
  requestedPortNote?: string;
  message?: string;
  /** A sticky re-allocation that changed the owner: handed over (--pid, or a reservation claimed), renewed (--ttl), made persistent. */
  ownerChange?: OwnerChange;
  previousOwner?: Owner;
  /** The sticky caller was given back the port it held last (its home port). */
  homePort?: true;
  /** The port is the sticky service's derived home port: the same on every machine while it is free. */
  derivedPort?: true;
  /** The port was freed lately by another service and still cooling: used because nothing else was free. */
  cooling?: CoolingNote;
  /**
   * The holder found has not started listening yet: the server a `run` (or a caller) that has
   * ended left starting (`existingPid` is then that server's process, or null when unknown).
   */
  starting?: true;
  /** With --wait-ready on an existing instance: its port accepted a connection. */
  ready?: true;
  waitedMs?: number;
}

export interface CoolingNote {
  freedAt: string;
  freedSecondsAgo: number;
  cooldownSeconds: number;
  previousHolder: { serviceType: string; instanceId: string; project: string };
  message: string;
}
