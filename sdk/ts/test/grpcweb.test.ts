// Google's grpc-web runtime (the npm package grpc-web, what the stubs of
// protoc-gen-grpc-web call) against a live node, in text mode (its
// default, and the only mode in which it streams) and in binary mode.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { CacheService, DistcacheError } from "@distcache/client";
import {
  type ClientReadableStream,
  GrpcWebClientBase,
  type Metadata,
  MethodDescriptor,
  MethodType,
  RpcError,
  StatusCode,
} from "grpc-web";

import { startNode, type TestNode } from "./node.js";
import { installXHR, StreamingXHR } from "./xhr.js";

installXHR();

// protoc-gen-grpc-web, which generates grpc-web stubs, is a binary
// downloaded from GitHub releases, out of reach here (only the npm
// registry is). A stub is a MethodDescriptor per method plus calls on
// GrpcWebClientBase, so the tests build the descriptors by hand, with
// the @bufbuild/protobuf messages the SDK already generates.

/** descriptor is the MethodDescriptor of one method of a generated service. */
function descriptor<I extends DescMessage, O extends DescMessage>(
  service: string,
  method: { name: string; input: I; output: O },
  type: string = MethodType.UNARY,
): MethodDescriptor<MessageShape<I>, MessageShape<O>> {
  // The request and response "types" are the classes google-protobuf
  // stubs pass; grpc-web only keeps them, and @bufbuild/protobuf
  // messages are plain objects.
  const noClass = Object as unknown as new () => never;
  return new MethodDescriptor(
    `/${service}/${method.name}`,
    type,
    noClass,
    noClass,
    (m: MessageShape<I>) => toBinary(method.input, m),
    (b: Uint8Array) => fromBinary(method.output, b),
  );
}

const setMethod = descriptor(CacheService.typeName, CacheService.method.set);
const getMethod = descriptor(CacheService.typeName, CacheService.method.get);

// grpc.health.v1 has no TypeScript here (the node serves grpc-go's
// messages); each of its two messages is one field: the service asked
// about, and the status as a number.
const SERVING = 1;
const watchMethod = new MethodDescriptor<string, number>(
  "/grpc.health.v1.Health/Watch",
  MethodType.SERVER_STREAMING,
  Object as unknown as new () => never,
  Object as unknown as new () => never,
  (service: string) => new BinaryWriter().tag(1, WireType.LengthDelimited).string(service).finish(),
  (b: Uint8Array) => {
    const r = new BinaryReader(b);
    let status = 0;
    while (r.pos < r.len) {
      const [field, wire] = r.tag();
      if (field === 1 && wire === WireType.Varint) {
        status = r.int32();
      } else {
        r.skip(wire);
      }
    }
    return status;
  },
);

/** header finds a response header in grpc-web metadata, whatever its case. */
function header(md: Metadata | undefined, name: string): string | undefined {
  const key = Object.keys(md ?? {}).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : md?.[key];
}

/** call makes a unary call and resolves with its answer. */
function call<I, O>(client: GrpcWebClientBase, baseUrl: string, method: MethodDescriptor<I, O>, req: I): Promise<O> {
  return client.unaryCall(baseUrl + method.getName(), req, {}, method);
}

/** messages collects a stream's messages until it ends; want, if given,
 * resolves the promise early, once that many have come. */
function messages<T>(stream: ClientReadableStream<T>, want = Infinity): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    stream.on("data", (m) => {
      got.push(m);
      if (got.length >= want) {
        resolve(got);
      }
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(got));
  });
}

const formats = [
  { format: "text", contentType: "application/grpc-web-text+proto" },
  { format: "binary", contentType: "application/grpc-web+proto" },
] as const;

for (const { format, contentType } of formats) {
  describe(`grpc-web runtime, ${format} mode`, () => {
    let node: TestNode;
    let client: GrpcWebClientBase;

    before(async () => {
      node = await startNode();
      client = new GrpcWebClientBase({ format });
    });
    after(() => node?.stop());

    it("sets and gets a value", async () => {
      StreamingXHR.contentTypes.length = 0;
      const value = new Uint8Array([0, 1, 2, 250, 251, 252, 253]); // not a multiple of 3: base64 pads
      await call(client, node.baseUrl, setMethod,
        create(CacheService.method.set.input, { group: "default", key: `gw-${format}`, value }));
      const got = await call(client, node.baseUrl, getMethod,
        create(CacheService.method.get.input, { group: "default", key: `gw-${format}` }));
      assert.deepEqual(got.value, value);
      // The answers came in the mode asked for.
      assert.deepEqual(StreamingXHR.contentTypes, [contentType, contentType]);
    });

    it("reports an invalid key with its violation in grpc-status-details-bin", async () => {
      const err = await call(client, node.baseUrl, setMethod,
        create(CacheService.method.set.input, { group: "default", key: "", value: new Uint8Array([1]) })).then(
        () => assert.fail("a Set with an empty key succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RpcError, `want an RpcError, got ${String(err)}`);
      assert.equal(err.code, StatusCode.INVALID_ARGUMENT, err.message);
      const details = header(err.metadata, "grpc-status-details-bin");
      assert.ok(details, `no grpc-status-details-bin in ${JSON.stringify(err.metadata)}`);
      // The google.rpc.Status in the header, decoded by connect-es, and
      // its buf.validate.Violations detail by the SDK.
      const status = findTrailerError(new Headers(Object.entries(err.metadata)));
      assert.ok(status, "grpc-status-details-bin did not decode");
      const violations = DistcacheError.from(status).violations;
      assert.equal(violations[0]?.field, "key", JSON.stringify(violations));
      assert.equal(violations[0]?.rule, "string.min_bytes");
    });

    if (format === "text") {
      it("streams Health/Watch: the first message comes while the stream is open", { timeout: 60_000 }, async () => {
        // The stream has no deadline and the node stays serving: it
        // would never end by itself.
        const stream = client.serverStreaming(node.baseUrl + watchMethod.getName(), "", {}, watchMethod);
        const got = await messages(stream, 1);
        stream.cancel();
        assert.deepEqual(got, [SERVING]);
      });
    } else {
      it("serves Health/Watch, whose messages it reads once the stream ends", { timeout: 60_000 }, async () => {
        // In binary mode grpc-web reads the body only once the response
        // has ended (it does not stream), so the stream gets a deadline
        // (grpc-timeout, with no client-side timer) to end it: then come
        // SERVING and the deadline's status.
        const stream = client.serverStreaming(node.baseUrl + watchMethod.getName(), "", { "grpc-timeout": "500m" }, watchMethod);
        const got: number[] = [];
        stream.on("data", (m) => got.push(m));
        const err = await new Promise<RpcError>((resolve, reject) => {
          stream.on("error", resolve);
          stream.on("end", () => reject(new Error(`the stream ended without its deadline's status, after ${JSON.stringify(got)}`)));
        });
        assert.equal(err.code, StatusCode.DEADLINE_EXCEEDED, err.message);
        assert.deepEqual(got, [SERVING]);
      });
    }
  });
}
