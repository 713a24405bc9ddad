/**
 * @distcache/client calls distcache nodes from browsers (and Node) over
 * gRPC-Web or Connect.
 *
 * ```ts
 * const client = createClient({ baseUrl: "http://localhost:8080" });
 * await client.set("default", "greeting", "hi", { ttlMs: 60_000 });
 * console.log(await client.getString("default", "greeting"));
 * ```
 *
 * @module
 */
export { createClient, DistcacheClient, type ClientOptions, type KeyResult, type SetManyEntry } from "./client.js";
export { DistcacheError, type Violation } from "./error.js";
export { Pipeline } from "./pipeline.js";
export type { Protocol } from "./transport.js";
export type { Source, Value } from "./value.js";

// Generated types: what the methods return, and the service descriptors
// for createClient from @connectrpc/connect or other transports.
export {
  AdminService,
  type GroupStats,
  GroupStatsSchema,
  type MemberPolicy,
  MemberPolicySchema,
  type Plugin,
  type PluginFailure,
  type PluginGroup,
  PluginGroupState,
  PluginKind,
  PluginOrigin,
  PluginSchema,
  PluginState,
} from "./gen/distcache/v1/admin_pb.js";
export { CacheService, Source as SourceEnum } from "./gen/distcache/v1/cache_pb.js";
export { ClusterService, type Member, MemberSchema, MemberState } from "./gen/distcache/v1/cluster_pb.js";
