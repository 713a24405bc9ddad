// setGroupPolicyAll on a live cluster of two nodes: every member's answer,
// a member that cannot switch reported in its answer, and a policy no
// node has refused before any member changes.

import assert from "node:assert/strict";
import { readFile, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";

import { createClient, DistcacheClient, DistcacheError } from "@distcache/client";

import { ADMIN_TOKEN, repoRoot, startCluster, type TestCluster, waitPlugin } from "./node.js";

describe("setGroupPolicyAll on a cluster of two", () => {
  let cluster: TestCluster;
  let admin: DistcacheClient; // calls n0

  /** policies returns the policy of group default on each node, in order. */
  const policies = () =>
    Promise.all(cluster.nodes.map(async (n) => (await createClient({ baseUrl: n.baseUrl }).stats("default"))[0]!.policy));

  /** address is a node's host:port, as its member entry has it. */
  const address = (i: number) => cluster.nodes[i]!.baseUrl.replace("http://", "");

  before(async () => {
    cluster = await startCluster(2);
    admin = createClient({ baseUrl: cluster.nodes[0]!.baseUrl, adminToken: ADMIN_TOKEN });
    await Promise.all(cluster.nodes.map((n) => waitPlugin(n.baseUrl, "fifo")));
  });
  after(() => cluster?.stop());

  it("switches the group on every member and answers for each", async () => {
    const members = await admin.setGroupPolicyAll("default", "fifo");
    assert.deepEqual(
      members.map((m) => ({ member: m.member, address: m.address, error: m.error })),
      [
        { member: "n0", address: address(0), error: "" },
        { member: "n1", address: address(1), error: "" },
      ],
    );
    for (const m of members) {
      assert.match(m.policy, /^fifo \(wasm/, `${m.member}'s policy`);
    }
    const now = await policies();
    assert.deepEqual(now, members.map((m) => m.policy), "GetStats disagrees with the answers");
  });

  it("an unknown policy is failed_precondition, and no member changes", async () => {
    const was = await policies();
    const err = await admin.setGroupPolicyAll("default", "nope").catch((e: unknown) => e);
    assert.ok(err instanceof DistcacheError, `want a DistcacheError, got ${String(err)}`);
    assert.equal(err.code, "failed_precondition", err.message);
    assert.match(err.message, /nope/);
    assert.deepEqual(await policies(), was);
  });

  it("a member without the plugin says so in its answer; the others switch", async () => {
    // n0 alone gets a copy of the built-in fifo under the name "solo".
    const gz = await readFile(join(repoRoot(), "server", "plugin", "builtin", "fifo.wasm.gz"));
    const plugins = join(cluster.nodes[0]!.dir, "plugins");
    await writeFile(join(plugins, ".solo.tmp"), gunzipSync(gz));
    await rename(join(plugins, ".solo.tmp"), join(plugins, "solo.wasm"));
    await waitPlugin(cluster.nodes[0]!.baseUrl, "solo");
    const [, n1Was] = await policies();

    const [n0, n1] = await admin.setGroupPolicyAll("default", "solo");
    assert.equal(n0?.member, "n0");
    assert.equal(n0.error, "");
    assert.match(n0.policy, /^solo \(wasm/);
    assert.equal(n1?.member, "n1");
    assert.equal(n1.policy, "");
    assert.match(n1.error, /solo/, "n1's error does not name the plugin");
    assert.deepEqual(await policies(), [n0.policy, n1Was]);
  });
});
