// The console's only door to the node: the TypeScript SDK, bundled from
// its sources in sdk/ts, and the shapes of its answers.
import type { DistcacheClient } from "../../../../sdk/ts/src/index.js";

export {
  createClient,
  DistcacheError,
  MemberState,
  PluginGroupState,
  PluginKind,
  PluginOrigin,
  PluginState,
  type DistcacheClient,
  type GroupStats,
  type Member,
  type Plugin,
  type PluginFailure,
  type PluginGroup,
  type Value,
} from "../../../../sdk/ts/src/index.js";

/** MemberList is ClusterService.ListMembers' answer. */
export type MemberList = Awaited<ReturnType<DistcacheClient["members"]>>;
