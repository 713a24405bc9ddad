// The client against a live node, in both protocols. Each protocol gets a
// fresh node, so the first Get of "hello" is a load in both.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ConnectError } from "@connectrpc/connect";
import { createClient, DistcacheClient, DistcacheError, type Protocol } from "@distcache/client";

import { ADMIN_TOKEN, startNode, type TestNode, waitPlugin } from "./node.js";

const protocols: Protocol[] = ["grpc-web", "connect"];

/** hang is a fetch that never answers; it rejects when its call is
 * aborted. */
const hang: typeof fetch = (_input, init) =>
  new Promise((_resolve, reject) => {
    init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
  });

/** counting returns a fetch that counts its calls into n.calls before
 * passing them to f. */
function counting(f: typeof fetch): { fetch: typeof fetch; calls: number } {
  const c = {
    calls: 0,
    fetch: ((input, init) => {
      c.calls++;
      return f(input, init);
    }) as typeof fetch,
  };
  return c;
}

/** rejects asserts that p rejects with a DistcacheError of code and returns it. */
async function rejects(p: Promise<unknown>, code: string): Promise<DistcacheError> {
  const err = await p.then(
    () => assert.fail(`resolved; want a DistcacheError with code ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DistcacheError, `want a DistcacheError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

for (const protocol of protocols) {
  describe(protocol, () => {
    let node: TestNode;
    let client: DistcacheClient;
    let admin: DistcacheClient;
    let authHeaders: Map<string, string | null>;
    let httpMethods: Map<string, string>;

    before(async () => {
      node = await startNode();
      client = createClient({ baseUrl: node.baseUrl, protocol });
      authHeaders = new Map();
      httpMethods = new Map();
      // admin records the Authorization header and HTTP method of each
      // call by RPC name.
      admin = createClient({
        baseUrl: node.baseUrl,
        protocol,
        adminToken: ADMIN_TOKEN,
        fetch: (input, init) => {
          const method = String(input).split("?")[0]!.split("/").pop()!;
          authHeaders.set(method, new Headers(init?.headers).get("Authorization"));
          httpMethods.set(method, init?.method ?? "GET");
          return fetch(input, init);
        },
      });
    });
    after(() => node?.stop());

    it("get loads hello from the source, then serves it locally", async () => {
      const first = await client.get("default", "hello");
      assert.equal(first.text(), "world");
      assert.deepEqual(first.value, new TextEncoder().encode("world"));
      assert.equal(first.source, "loader");
      assert.equal(first.ttlMs, undefined); // group default has no ttl
      const second = await client.get("default", "hello");
      assert.equal(second.text(), "world");
      assert.equal(second.source, "local");
    });

    it("set and getString keep the value and its ttl", async () => {
      await client.set("default", "ttl-60s", "v1", { ttlMs: 60_000 });
      assert.equal(await client.getString("default", "ttl-60s"), "v1");
      const v = await client.get("default", "ttl-60s");
      assert.equal(v.source, "local");
      assert.ok(v.ttlMs !== undefined && v.ttlMs > 50_000 && v.ttlMs <= 60_000, `ttlMs ${v.ttlMs}`);

      await client.set("default", "forever", new Uint8Array([0, 1, 255]), { ttlMs: 0 });
      const f = await client.get("default", "forever");
      assert.deepEqual(f.value, new Uint8Array([0, 1, 255]));
      assert.equal(f.ttlMs, undefined);

      await client.set("default", "group-ttl", "ünïcode ✓");
      assert.equal(await client.getString("default", "group-ttl"), "ünïcode ✓");
    });

    it("delete, then get is not_found", async () => {
      await client.set("default", "doomed", "x");
      await client.delete("default", "doomed");
      const err = await rejects(client.get("default", "doomed"), "not_found");
      assert.deepEqual(err.violations, []);
      assert.ok(err.cause instanceof ConnectError);
      await client.delete("default", "doomed"); // deleting a missing key succeeds
    });

    it("invalid requests are invalid_argument with violations", async () => {
      const cases: { name: string; call: () => Promise<unknown>; field: string; rule: string }[] = [
        { name: "empty key", call: () => client.get("default", ""), field: "key", rule: "string.min_bytes" },
        { name: "bad group", call: () => client.set("Bad!", "k", "v"), field: "group", rule: "string.pattern" },
        {
          name: "ttl over a year",
          call: () => client.set("default", "k", "v", { ttlMs: 366 * 86_400_000 }),
          field: "ttl",
          rule: "duration.gte_lte",
        },
        { name: "owner of empty key", call: () => client.owner(""), field: "key", rule: "string.min_bytes" },
      ];
      for (const c of cases) {
        const err = await rejects(c.call(), "invalid_argument");
        const v = err.violations.find((v) => v.field === c.field);
        assert.ok(v, `${c.name}: no violation of ${c.field} in ${JSON.stringify(err.violations)}`);
        assert.equal(v.rule, c.rule, c.name);
        assert.ok(v.message.length > 0, c.name);
      }
    });

    it("stats reports group default", async () => {
      const all = await client.stats();
      const def = all.find((g) => g.group === "default");
      assert.ok(def, `no default in ${all.map((g) => g.group).join(",")}`);
      assert.ok(def.gets > 0n, `gets ${def.gets}`);
      const one = await client.stats("default");
      assert.deepEqual(one.map((g) => g.group), ["default"]);
      await rejects(client.stats("nope"), "not_found");
    });

    it("members and owner name this node", async () => {
      const m = await client.members();
      assert.equal(m.members.length, 1);
      assert.equal(m.members[0]!.id, m.self);
      assert.ok(m.replicas > 0);
      const owner = await client.owner("x");
      assert.equal(owner.id, m.self);
    });

    it("plugins is an array", async () => {
      const plugins = await client.plugins();
      assert.ok(Array.isArray(plugins));
    });

    it("admin mutations need the token", async () => {
      await rejects(client.setGroupPolicy("default", "lru"), "unauthenticated");
      await rejects(client.setGroupPolicyAll("default", "lru"), "unauthenticated");
      await rejects(client.purge("default"), "unauthenticated");
      const wrong = createClient({ baseUrl: node.baseUrl, protocol, adminToken: "wrong" });
      await rejects(wrong.purge("default"), "unauthenticated");
    });

    it("purge with the token drops the entries, not the source", async () => {
      await admin.set("default", "purged", "still in the source");
      const removed = await admin.purge("default");
      assert.equal(typeof removed, "bigint");
      assert.ok(removed >= 1n, `removed ${removed}`);
      const v = await admin.get("default", "purged");
      assert.equal(v.source, "loader");
      assert.equal(v.text(), "still in the source");
      assert.equal(authHeaders.get("Purge"), `Bearer ${ADMIN_TOKEN}`);
      assert.equal(authHeaders.get("Get"), null, "the token went with a Get");
      assert.equal(authHeaders.get("Set"), null, "the token went with a Set");
      // Connect sends Get, which has no side effects, as an HTTP GET.
      assert.equal(httpMethods.get("Get"), protocol === "connect" ? "GET" : "POST");
    });

    it("setGroupPolicyAll on a node on its own answers for that node", async () => {
      await waitPlugin(node.baseUrl, "lru");
      const { self } = await client.members();
      const members = await admin.setGroupPolicyAll("default", "lru");
      assert.deepEqual(
        members.map((m) => ({ member: m.member, address: m.address, error: m.error })),
        [{ member: self, address: node.baseUrl.replace("http://", ""), error: "" }],
      );
      assert.match(members[0]!.policy, /^lru \(wasm/);
      assert.equal(authHeaders.get("SetGroupPolicy"), `Bearer ${ADMIN_TOKEN}`);
    });

    it("an attempt that hangs is tried once more", async () => {
      let fetches = 0;
      const firstHangs: typeof fetch = (input, init) => (++fetches === 1 ? hang(input, init) : fetch(input, init));
      const c = createClient({ baseUrl: node.baseUrl, protocol, attemptTimeoutMs: 100, fetch: firstHangs });
      const started = Date.now();
      assert.equal(await c.getString("default", "hello"), "world");
      assert.equal(fetches, 2);
      assert.ok(Date.now() - started < 100 + 1000, `took ${Date.now() - started}ms`);
    });

    it("the raw clients are there too", async () => {
      const res = await client.cache.get({ group: "default", key: "hello" });
      assert.equal(new TextDecoder().decode(res.value), "world");
      const err = await client.cache.get({ group: "default", key: "" }).catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError);
      assert.equal(DistcacheError.from(err).violations[0]?.rule, "string.min_bytes");
    });
  });
}

describe("without a node", () => {
  it("a node that is not there is a DistcacheError", async () => {
    const client = createClient({ baseUrl: "http://127.0.0.1:1" });
    const err = await client.get("default", "k").catch((e: unknown) => e);
    assert.ok(err instanceof DistcacheError);
    assert.equal(err.code, "unavailable", err.message);
  });

  it("timeoutMs is the call's deadline, and running out of it is not retried", async () => {
    for (const protocol of protocols) {
      const f = counting(hang);
      const client = createClient({ baseUrl: "http://127.0.0.1:1", protocol, timeoutMs: 50, fetch: f.fetch });
      await rejects(client.get("default", "k"), "deadline_exceeded");
      assert.equal(f.calls, 1, protocol);
    }
  });

  it("attemptTimeoutMs bounds each attempt, and a timed-out attempt is tried once more", async () => {
    for (const protocol of protocols) {
      const f = counting(hang);
      const client = createClient({ baseUrl: "http://127.0.0.1:1", protocol, attemptTimeoutMs: 30, fetch: f.fetch });
      const started = Date.now();
      await rejects(client.get("default", "k"), "deadline_exceeded");
      const took = Date.now() - started;
      assert.equal(f.calls, 2, protocol);
      assert.ok(took >= 60 && took < 60 + 1000, `${protocol}: took ${took}ms`);
    }
  });

  it("an unavailable node is tried once more", async () => {
    const f = counting(fetch);
    const client = createClient({ baseUrl: "http://127.0.0.1:1", fetch: f.fetch });
    await rejects(client.stats(), "unavailable");
    assert.equal(f.calls, 2);
  });

  it("purge and setGroupPolicy have only timeoutMs and are not retried", async () => {
    const f = counting(hang);
    const client = createClient({ baseUrl: "http://127.0.0.1:1", attemptTimeoutMs: 10, timeoutMs: 100, fetch: f.fetch });
    const started = Date.now();
    await rejects(client.purge("default"), "deadline_exceeded");
    await rejects(client.setGroupPolicy("default", "lru"), "deadline_exceeded");
    assert.ok(Date.now() - started >= 190, `took ${Date.now() - started}ms`);
    assert.equal(f.calls, 2);
  });

  it("bad options throw", () => {
    assert.throws(() => createClient({ baseUrl: "" }), TypeError);
    assert.throws(() => createClient({ baseUrl: "http://x", protocol: "grpc" as Protocol }), TypeError);
    assert.throws(() => createClient({ baseUrl: "http://x", attemptTimeoutMs: -1 }), TypeError);
    assert.throws(() => createClient({ baseUrl: "http://x", timeoutMs: Number.NaN }), TypeError);
  });

  it("a non-finite ttlMs is invalid_argument", async () => {
    const client = createClient({ baseUrl: "http://127.0.0.1:1" });
    const err = await rejects(client.set("default", "k", "v", { ttlMs: Number.NaN }), "invalid_argument");
    assert.match(err.message, /ttlMs/);
  });
});
