import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient as createServiceClient, type Transport } from "@connectrpc/connect";

import { DistcacheError, fromKeyError } from "./error.js";
import { CacheService, type PipelineRequestSchema, type PipelineResponse } from "./gen/distcache/v1/cache_pb.js";
import { bytesOf, msToDuration, type Value, valueOf } from "./value.js";

type Request = MessageInitShape<typeof PipelineRequestSchema>;

interface Pending {
  resolve(res: PipelineResponse): void;
  reject(err: DistcacheError): void;
}

/**
 * Pipeline sends get, set and delete calls to one node over one
 * bidirectional stream (the Pipeline RPC) without waiting for each answer
 * before sending the next. The node runs a bounded number of them at once
 * and answers each when it is done, so answers may come in another order
 * than the calls: a call that must follow another on the same key should
 * wait for the earlier one. A bad call rejects alone; the stream goes on.
 *
 * It needs a transport that carries bidirectional streams: in Node,
 * createGrpcTransport or createConnectTransport of
 * `@connectrpc/connect-node` with `httpVersion: "2"`. Browsers cannot
 * (fetch has no full-duplex streams): use getMany there. Calls are not
 * retried. Close the pipeline when done.
 */
export class Pipeline {
  private readonly client: Client<typeof CacheService>;
  private readonly pending = new Map<bigint, Pending>();
  private readonly queue: Request[] = [];
  private wake: (() => void) | undefined;
  private nextId = 0n;
  private closed = false;
  private failure: DistcacheError | undefined;
  private readonly done: Promise<void>;

  /** The constructor opens the stream on transport; signal, if given,
   * ends it. */
  constructor(transport: Transport, opts: { signal?: AbortSignal } = {}) {
    this.client = createServiceClient(CacheService, transport);
    this.done = this.receive(opts.signal);
  }

  /** get resolves to the value of key in group, as DistcacheClient.get. */
  async get(group: string, key: string): Promise<Value> {
    const res = await this.send({ call: { case: "get", value: { group, key } } });
    if (res.result.case !== "get") {
      throw new DistcacheError("internal", "[internal] the node answered a get with no value");
    }
    return valueOf(res.result.value);
  }

  /** set stores value under key in group, as DistcacheClient.set. */
  async set(group: string, key: string, value: Uint8Array | string, opts: { ttlMs?: number } = {}): Promise<void> {
    const ttl = opts.ttlMs === undefined ? undefined : msToDuration(opts.ttlMs);
    await this.send({ call: { case: "set", value: { group, key, value: bytesOf(value), ttl } } });
  }

  /** delete removes key from group, as DistcacheClient.delete. */
  async delete(group: string, key: string): Promise<void> {
    await this.send({ call: { case: "delete", value: { group, key } } });
  }

  /** close stops sending, waits for the answers of the calls already sent
   * and ends the stream. Calls after close reject with "canceled". */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.done;
  }

  private send(req: Request): Promise<PipelineResponse> {
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    if (this.closed) {
      return Promise.reject(new DistcacheError("canceled", "[canceled] the pipeline is closed"));
    }
    const id = ++this.nextId;
    return new Promise<PipelineResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ ...req, id });
      this.wake?.();
    }).then((res) => {
      if (res.error !== undefined) {
        throw fromKeyError(res.error);
      }
      return res;
    });
  }

  /** requests yields the queued calls until close. */
  private async *requests(): AsyncGenerator<Request> {
    for (;;) {
      while (this.queue.length > 0) {
        yield this.queue.shift()!;
      }
      if (this.closed) {
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  /** receive hands each answer to its call, then fails the calls left. */
  private async receive(signal: AbortSignal | undefined): Promise<void> {
    try {
      for await (const res of this.client.pipeline(this.requests(), { signal })) {
        const p = this.pending.get(res.id);
        this.pending.delete(res.id);
        p?.resolve(res);
      }
      this.failure = new DistcacheError("canceled", "[canceled] the pipeline ended");
    } catch (reason) {
      this.failure = DistcacheError.from(reason);
    }
    this.closed = true;
    for (const p of this.pending.values()) {
      p.reject(this.failure);
    }
    this.pending.clear();
  }
}
