// The console's entry point: one client of the node that served the page,
// over gRPC-Web, polled every two seconds for its stats and members.
import { renderMembers } from "./cluster.js";
import { byId, h, replace } from "./dom.js";
import { clock } from "./format.js";
import { Groups } from "./groups.js";
import { Keys } from "./keys.js";
import { Plugins } from "./plugins.js";
import { createClient, type DistcacheClient } from "./sdk.js";

/** pollMs is how often the console asks for stats and members. */
const pollMs = 2000;
/** maxPoints is how many hit-ratio samples each group keeps: 2 minutes. */
const maxPoints = 60;
/** pluginEvery is every how many polls the plugin list is refreshed. */
const pluginEvery = 5;
/** tokenKey names the admin token in sessionStorage: it lives as long as
 *  the tab and is sent only to this node. */
const tokenKey = "distcache.adminToken";

const baseUrl = window.location.origin;
const client = createClient({ baseUrl, protocol: "grpc-web", timeoutMs: 5000 });

const tokenInput = byId<HTMLInputElement>("token");
tokenInput.value = sessionStorage.getItem(tokenKey) ?? "";
let admin: DistcacheClient | undefined;

/** adminClient returns a client that sends the entered admin token. */
function adminClient(): DistcacheClient {
  const adminToken = tokenInput.value.trim();
  admin ??= createClient({ baseUrl, protocol: "grpc-web", timeoutMs: 30000, adminToken });
  return admin;
}

const groups = new Groups(byId("stats"), maxPoints, pollMs);
const keys = new Keys(client, () => void poll());
const plugins = new Plugins(
  byId("plugins"),
  byId("policies"),
  byId("policy-error"),
  () => tokenInput.value.trim() !== "",
  (group, policy) => adminClient().setGroupPolicy(group, policy),
  () => void poll(true),
);

tokenInput.addEventListener("input", () => {
  const token = tokenInput.value.trim();
  if (token === "") sessionStorage.removeItem(tokenKey);
  else sessionStorage.setItem(tokenKey, token);
  admin = undefined;
  plugins.tokenChanged();
});

const status = byId("status");
let polls = 0;
let timer: number | undefined;
let inFlight: Promise<void> | undefined;
let again: { withPlugins: boolean } | undefined;

/** poll refreshes every section (the plugins every pluginEvery polls, or
 *  when withPlugins) and schedules the next poll. A poll asked for while
 *  one is running runs right after it. */
function poll(withPlugins = false): Promise<void> {
  if (inFlight) {
    again = { withPlugins: withPlugins || (again?.withPlugins ?? false) };
    return inFlight;
  }
  window.clearTimeout(timer);
  inFlight = refresh(withPlugins || polls % pluginEvery === 0).finally(() => {
    inFlight = undefined;
    polls++;
    const next = again;
    again = undefined;
    if (next) void poll(next.withPlugins);
    else timer = window.setTimeout(() => void poll(), pollMs);
  });
  return inFlight;
}

async function refresh(withPlugins: boolean): Promise<void> {
  const [stats, members, loaded] = await Promise.allSettled([
    client.stats(),
    client.members(),
    withPlugins ? client.plugins() : Promise.resolve(undefined),
  ]);
  const now = Date.now();
  if (stats.status === "fulfilled") {
    groups.update(stats.value, now);
    keys.setGroups(stats.value.map((g) => g.group));
  }
  if (members.status === "fulfilled") {
    renderMembers(byId("members"), members.value, now);
    byId("self").textContent = members.value.self;
  }
  if (stats.status === "fulfilled") {
    plugins.update(loaded.status === "fulfilled" ? loaded.value : undefined, stats.value);
  }
  const failed = [stats, members, loaded].find((r) => r.status === "rejected");
  if (failed) {
    const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
    status.className = "status down";
    replace(status, h("span", { className: "dot" }), `node unreachable: ${reason}`);
  } else {
    status.className = "status up";
    replace(status, h("span", { className: "dot" }), `live · updated ${clock(new Date(now)).slice(11)}`);
  }
}

void poll();
