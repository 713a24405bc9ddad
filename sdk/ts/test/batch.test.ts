// getMany, setMany, deleteMany and the pipeline against a live node.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createGrpcTransport } from "@connectrpc/connect-node";
import { createClient, type DistcacheClient, DistcacheError, type Protocol } from "@distcache/client";

import { startNode, type TestNode } from "./node.js";

const protocols: Protocol[] = ["grpc-web", "connect"];

for (const protocol of protocols) {
  describe(`batches over ${protocol}`, () => {
    let node: TestNode;
    let client: DistcacheClient;

    before(async () => {
      node = await startNode();
      client = createClient({ baseUrl: node.baseUrl, protocol });
    });
    after(() => node?.stop());

    it("answers each key on its own", async () => {
      const errs = await client.setMany("default", [
        { key: "b1", value: "one" },
        { key: "", value: "bad key" },
        { key: "b2", value: new Uint8Array([2]), ttlMs: 60_000 },
      ]);
      assert.equal(errs.length, 3);
      assert.equal(errs[0], undefined);
      assert.ok(errs[1] instanceof DistcacheError);
      assert.equal(errs[1].code, "invalid_argument");
      assert.equal(errs[1].violations[0]?.field, "key");
      assert.equal(errs[2], undefined);

      const got = await client.getMany("default", ["b1", "", "b2", "never-there"]);
      assert.deepEqual(got.map((r) => r.key), ["b1", "", "b2", "never-there"]);
      assert.equal(got[0]!.value?.text(), "one");
      assert.equal(got[0]!.value?.source, "local");
      assert.equal(got[1]!.error?.code, "invalid_argument");
      assert.deepEqual(got[2]!.value?.value, new Uint8Array([2]));
      assert.ok((got[2]!.value?.ttlMs ?? 0) > 50_000);
      assert.equal(got[3]!.error?.code, "not_found");

      const dels = await client.deleteMany("default", ["b1", "b2"]);
      assert.deepEqual(dels, [undefined, undefined]);
      assert.equal((await client.getMany("default", ["b1"]))[0]!.error?.code, "not_found");
    });

    it("a batch over the limit fails as a whole", async () => {
      const keys = Array.from({ length: 1001 }, (_, i) => `k${i}`);
      await assert.rejects(client.getMany("default", keys), (e: unknown) => e instanceof DistcacheError && e.code === "invalid_argument");
      await assert.rejects(client.getMany("nope", ["k"]), (e: unknown) => e instanceof DistcacheError && e.code === "not_found");
    });
  });
}

describe("pipeline over HTTP/2 (connect-node)", () => {
  let node: TestNode;
  let client: DistcacheClient;

  before(async () => {
    node = await startNode();
    client = createClient({ baseUrl: node.baseUrl });
  });
  after(() => node?.stop());

  it("answers interleaved calls by id, a bad one alone", async () => {
    const p = client.pipeline(createGrpcTransport({ baseUrl: node.baseUrl }));
    const sets = Array.from({ length: 50 }, (_, i) => p.set("default", `p${i}`, `v${i}`));
    const isCode = (code: string) => (e: unknown) => e instanceof DistcacheError && e.code === code;
    // The rejections are awaited later: assert.rejects handles them now.
    const bad = assert.rejects(p.get("default", ""), isCode("invalid_argument"));
    await Promise.all(sets);
    const gets = Array.from({ length: 50 }, (_, i) => p.get("default", `p${i}`));
    const missing = assert.rejects(p.get("default", "never-there"), isCode("not_found"));
    const values = await Promise.all(gets);
    values.forEach((v, i) => assert.equal(v.text(), `v${i}`));
    await bad;
    await missing;
    await p.delete("default", "p0");
    await assert.rejects(p.get("default", "p0"), (e: unknown) => e instanceof DistcacheError && e.code === "not_found");
    await p.close();
    await assert.rejects(p.get("default", "p1"), (e: unknown) => e instanceof DistcacheError && e.code === "canceled");
  });
});
