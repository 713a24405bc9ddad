import { type Client, createClient as createServiceClient, type Transport } from "@connectrpc/connect";

import { Attempts, checkAttemptOptions } from "./attempt.js";
import { AdminService, type GroupStats, type MemberPolicy, type Plugin } from "./gen/distcache/v1/admin_pb.js";
import { CacheService } from "./gen/distcache/v1/cache_pb.js";
import { ClusterService, type Member } from "./gen/distcache/v1/cluster_pb.js";
import { call, DistcacheError, fromKeyError } from "./error.js";
import { Pipeline } from "./pipeline.js";
import { createTransport, type Protocol } from "./transport.js";
import { bytesOf, msToDuration, type Value, valueOf } from "./value.js";

/**
 * ClientOptions configure a {@link DistcacheClient}.
 */
export interface ClientOptions {
  /** baseUrl is the node's URL, e.g. "http://localhost:8080". Required. */
  baseUrl: string;
  /** protocol is the wire protocol; default "grpc-web". */
  protocol?: Protocol;
  /** adminToken is sent as "Authorization: Bearer <adminToken>" with
   * purge, setGroupPolicy and setGroupPolicyAll, and with no other call.
   * Default none. */
  adminToken?: string;
  /** attemptTimeoutMs bounds each attempt of get, set, delete, stats,
   * plugins, members and owner, and is sent to the node as the attempt's
   * deadline; default 1000, 0 for none. An attempt that runs out of it,
   * or finds the node unavailable, is tried once more (these calls are
   * idempotent), so such a call waits at most about twice this long.
   * setGroupPolicy, setGroupPolicyAll and purge are neither bounded by it
   * nor retried. */
  attemptTimeoutMs?: number;
  /** timeoutMs is every call's deadline, its retry included, sent to the
   * node too; default none. Running out of it is not retried. It is also
   * the deadline of the raw clients' calls. */
  timeoutMs?: number;
  /** fetch replaces globalThis.fetch, e.g. to add credentials or for
   * tests. */
  fetch?: typeof globalThis.fetch;
}

/** KeyResult is one key's answer in {@link DistcacheClient.getMany}:
 * value when the key has one, else error. */
export interface KeyResult {
  /** key is the key asked for. */
  key: string;
  /** value is the key's value, when it has one. */
  value?: Value;
  /** error is why the key has no value. */
  error?: DistcacheError;
}

/** SetManyEntry is one entry of {@link DistcacheClient.setMany}; ttlMs is
 * as set's. */
export interface SetManyEntry {
  key: string;
  value: Uint8Array | string;
  ttlMs?: number;
}

/**
 * DistcacheClient calls one distcache node; the node forwards each key to
 * its owner. Each attempt of a call is bounded by
 * {@link ClientOptions.attemptTimeoutMs}, and the idempotent calls are
 * tried once more after an attempt that timed out or found the node
 * unavailable (behind a load balancer the retry may reach another node).
 * Every method rejects with a {@link DistcacheError}. A client
 * holds no connection state of its own (fetch does), so one can be shared
 * by the whole page and used by any number of calls at once.
 *
 * cache, admin and cluster are the generated Connect clients, for what the
 * methods do not cover (per-call headers, an AbortSignal); they reject with
 * ConnectError, which {@link DistcacheError.from} converts.
 */
export class DistcacheClient {
  /** cache is the raw CacheService client. */
  readonly cache: Client<typeof CacheService>;
  /** admin is the raw AdminService client; it sends adminToken with Purge
   * and SetGroupPolicy. */
  readonly admin: Client<typeof AdminService>;
  /** cluster is the raw ClusterService client. */
  readonly cluster: Client<typeof ClusterService>;

  private readonly attempts: Attempts;

  /** The constructor throws a TypeError for a missing baseUrl, an
   * unknown protocol, or a negative timeout. */
  constructor(opts: ClientOptions) {
    if (typeof opts?.baseUrl !== "string" || opts.baseUrl === "") {
      throw new TypeError("distcache: ClientOptions.baseUrl is required, e.g. \"http://localhost:8080\"");
    }
    checkAttemptOptions(opts);
    this.attempts = new Attempts(opts);
    const transport = createTransport(opts);
    this.cache = createServiceClient(CacheService, transport);
    this.admin = createServiceClient(AdminService, transport);
    this.cluster = createServiceClient(ClusterService, transport);
  }

  /** get returns the value of key in group, loading it on a miss; a key
   * the group's source does not have rejects with code "not_found". */
  get(group: string, key: string): Promise<Value> {
    return call(async () => valueOf(await this.attempts.retried((o) => this.cache.get({ group, key }, o))));
  }

  /** getString is get decoding the value as UTF-8. */
  async getString(group: string, key: string): Promise<string> {
    return (await this.get(group, key)).text();
  }

  /**
   * set stores value (a string is stored as UTF-8) under key in group.
   * opts.ttlMs is the entry's lifetime: omitted means the group's ttl, 0
   * means it never expires; the node allows at most 365 days.
   */
  set(group: string, key: string, value: Uint8Array | string, opts: { ttlMs?: number } = {}): Promise<void> {
    return call(async () => {
      const req = { group, key, value: bytesOf(value), ttl: opts.ttlMs === undefined ? undefined : msToDuration(opts.ttlMs) };
      await this.attempts.retried((o) => this.cache.set(req, o));
    });
  }

  /** delete removes key from group; deleting a missing key succeeds. */
  delete(group: string, key: string): Promise<void> {
    return call(async () => {
      await this.attempts.retried((o) => this.cache.delete({ group, key }, o));
    });
  }

  /**
   * getMany gets keys of group in one call. Each key is answered on its
   * own, in order: its value, or the DistcacheError get would have
   * rejected with ("not_found" for a missing key, "invalid_argument" for a
   * bad one). The call itself rejects only when the whole batch fails: an
   * unknown group, more keys than the node's --max-batch-keys (default
   * 1,000), or no node. The node fans the keys out to their owners, one
   * call per owner.
   */
  getMany(group: string, keys: string[]): Promise<KeyResult[]> {
    return call(async () => {
      const res = await this.attempts.retried((o) => this.cache.getMany({ group, keys }, o));
      return res.results.map((r, i) =>
        r.error !== undefined
          ? { key: keys[i]!, error: fromKeyError(r.error) }
          : { key: keys[i]!, value: valueOf(r) },
      );
    });
  }

  /**
   * setMany stores entries in group in one call, each as set would, and
   * resolves to each entry's error (undefined: stored), in order. The
   * entries are applied concurrently: a key given twice ends with either
   * value. It rejects only when the whole batch fails, as getMany.
   */
  setMany(group: string, entries: SetManyEntry[]): Promise<(DistcacheError | undefined)[]> {
    return call(async () => {
      const req = {
        group,
        entries: entries.map((e) => ({
          key: e.key,
          value: bytesOf(e.value),
          ttl: e.ttlMs === undefined ? undefined : msToDuration(e.ttlMs),
        })),
      };
      const res = await this.attempts.retried((o) => this.cache.setMany(req, o));
      return res.results.map((r) => (r.error === undefined ? undefined : fromKeyError(r.error)));
    });
  }

  /** deleteMany removes keys from group in one call, each as delete would,
   * and resolves to each key's error (undefined: deleted), in order. */
  deleteMany(group: string, keys: string[]): Promise<(DistcacheError | undefined)[]> {
    return call(async () => {
      const res = await this.attempts.retried((o) => this.cache.deleteMany({ group, keys }, o));
      return res.results.map((r) => (r.error === undefined ? undefined : fromKeyError(r.error)));
    });
  }

  /**
   * pipeline opens a {@link Pipeline} to the node over transport, which
   * must carry bidirectional streams (in Node, a transport of
   * `@connectrpc/connect-node` with `httpVersion: "2"`; browsers have
   * none: use getMany). signal, if given, ends the stream.
   */
  pipeline(transport: Transport, opts: { signal?: AbortSignal } = {}): Pipeline {
    return new Pipeline(transport, opts);
  }

  /** stats returns the counters of group, or of every group (sorted by
   * name) when group is omitted. */
  stats(group?: string): Promise<GroupStats[]> {
    return call(async () => (await this.attempts.retried((o) => this.admin.getStats({ group }, o))).groups);
  }

  /** plugins lists the plugin modules the node has loaded, sorted by
   * name. */
  plugins(): Promise<Plugin[]> {
    return call(async () => (await this.attempts.retried((o) => this.admin.listPlugins({}, o))).plugins);
  }

  /** setGroupPolicy switches group, on the node the client calls, to a
   * loaded policy plugin and returns the policy now in use. It needs
   * adminToken. A policy the node has not loaded rejects with code
   * "failed_precondition", an unknown group with "not_found". */
  setGroupPolicy(group: string, policy: string): Promise<string> {
    return call(async () => (await this.attempts.once((o) => this.admin.setGroupPolicy({ group, policy }, o))).policy);
  }

  /**
   * setGroupPolicyAll switches group to the policy plugin named policy on
   * every member of the cluster, as the Go client's SetGroupPolicyAll:
   * the node the client calls switches it, then asks each other member
   * of its ring with this client's adminToken. It resolves to every
   * member's answer, sorted by member id (a node on its own answers for
   * itself alone). A member that did not switch does not reject the
   * call: its answer's error says why (unreachable, token refused,
   * plugin not loaded there) and its policy is empty, so check each
   * answer's error. The call rejects, and no member is asked, when the
   * node called cannot switch the group: "failed_precondition" for a
   * policy it has not loaded, "not_found" for an unknown group. A member
   * that joins or restarts later serves the policy of its groups file.
   * It needs adminToken.
   */
  setGroupPolicyAll(group: string, policy: string): Promise<MemberPolicy[]> {
    return call(async () => {
      const res = await this.attempts.once((o) => this.admin.setGroupPolicy({ group, policy, allMembers: true }, o));
      return res.members;
    });
  }

  /** purge drops every entry the node holds for group (its source is not
   * touched) and returns how many it dropped. It needs adminToken. */
  purge(group: string): Promise<bigint> {
    return call(async () => (await this.attempts.once((o) => this.admin.purge({ group }, o))).removed);
  }

  /** members lists the ring as the node sees it: its own id, the virtual
   * nodes per member, and the members sorted by id. */
  members(): Promise<{ self: string; replicas: number; members: Member[] }> {
    return call(async () => {
      const res = await this.attempts.retried((o) => this.cluster.listMembers({}, o));
      return { self: res.self, replicas: res.replicas, members: res.members };
    });
  }

  /** owner returns the member that owns key. */
  owner(key: string): Promise<Member> {
    return call(async () => {
      const res = await this.attempts.retried((o) => this.cluster.owner({ key }, o));
      if (res.owner === undefined) {
        throw new DistcacheError("internal", "[internal] the node named no owner");
      }
      return res.owner;
    });
  }
}

/** createClient is `new DistcacheClient(opts)`. */
export function createClient(opts: ClientOptions): DistcacheClient {
  return new DistcacheClient(opts);
}
