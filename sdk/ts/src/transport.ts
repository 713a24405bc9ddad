import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

import { AdminService } from "./gen/distcache/v1/admin_pb.js";

/**
 * Protocol is the wire protocol a client speaks. "grpc-web" (the default)
 * is binary protobuf over HTTP/1.1 or HTTP/2. "connect" is JSON over plain
 * HTTP POST, readable in the browser's network tab, with Get sent as a
 * cacheable HTTP GET.
 */
export type Protocol = "grpc-web" | "connect";

/** TransportOptions are the ClientOptions a transport is made from. */
export interface TransportOptions {
  baseUrl: string;
  protocol?: Protocol;
  adminToken?: string;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

/**
 * adminMutations are the calls the node guards with its admin token; the
 * token is sent with these and with nothing else.
 */
const adminMutations: ReadonlySet<DescMethod> = new Set<DescMethod>([AdminService.method.purge, AdminService.method.setGroupPolicy]);

/** adminAuth adds "Authorization: Bearer <token>" to admin mutations. */
export function adminAuth(token: string): Interceptor {
  return (next) => (req) => {
    if (adminMutations.has(req.method)) {
      req.header.set("Authorization", `Bearer ${token}`);
    }
    return next(req);
  };
}

/** createTransport makes the transport that ClientOptions describe. */
export function createTransport(opts: TransportOptions): Transport {
  const common = {
    baseUrl: opts.baseUrl,
    fetch: opts.fetch,
    defaultTimeoutMs: opts.timeoutMs,
    interceptors: opts.adminToken === undefined ? [] : [adminAuth(opts.adminToken)],
  };
  switch (opts.protocol ?? "grpc-web") {
    case "grpc-web":
      return createGrpcWebTransport(common);
    case "connect":
      return createConnectTransport({ ...common, useHttpGet: true });
    default:
      throw new TypeError(`distcache: unknown protocol ${JSON.stringify(opts.protocol)}; use "grpc-web" or "connect"`);
  }
}
