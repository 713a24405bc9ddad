import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";

import { DistcacheError } from "./error.js";
import { type GetResponse, Source as SourceEnum } from "./gen/distcache/v1/cache_pb.js";

/**
 * Source says where a value came from: "local" (this node's store), "hot"
 * (a hot copy of a key another node owns), "peer" (fetched from the owner),
 * "loader" (loaded from the group's source just now), or "unknown" (a value
 * this client does not know, from a newer node).
 */
export type Source = "local" | "hot" | "peer" | "loader" | "unknown";

/**
 * Value is one cached value with what the node said about it. value is
 * the caller's to keep; the client holds no reference to it.
 */
export interface Value {
  /** value is the bytes stored under the key. */
  value: Uint8Array;
  /** text decodes value as UTF-8 (invalid bytes become U+FFFD). */
  text(): string;
  /** ttlMs is the time the entry has left, in whole milliseconds rounded
   * up; undefined when it never expires. */
  ttlMs: number | undefined;
  /** source says where the value came from. */
  source: Source;
}

const sources: Record<SourceEnum, Source> = {
  [SourceEnum.UNSPECIFIED]: "unknown",
  [SourceEnum.LOCAL]: "local",
  [SourceEnum.HOT]: "hot",
  [SourceEnum.PEER]: "peer",
  [SourceEnum.LOADER]: "loader",
};

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** valueOf makes a Value of a GetResponse, or of a GetResult's same
 * fields. */
export function valueOf(res: Pick<GetResponse, "value" | "ttl" | "source">): Value {
  const value = res.value;
  return {
    value,
    text: () => decoder.decode(value),
    ttlMs: res.ttl === undefined ? undefined : durationToMs(res.ttl),
    source: sources[res.source] ?? "unknown",
  };
}

/** bytesOf encodes a string as UTF-8; bytes are passed through. */
export function bytesOf(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** durationToMs converts a Duration to milliseconds, rounded up. */
export function durationToMs(d: Duration): number {
  return Math.ceil(Number(d.seconds) * 1000 + d.nanos / 1e6);
}

/**
 * msToDuration converts milliseconds to a Duration; seconds and nanos
 * carry the same sign, as the Duration spec requires. NaN and infinities
 * throw a DistcacheError with code "invalid_argument"; other ranges are
 * the node's to check.
 */
export function msToDuration(ms: number): Duration {
  if (!Number.isFinite(ms)) {
    throw new DistcacheError("invalid_argument", `[invalid_argument] ttlMs must be a finite number, got ${ms}`);
  }
  const seconds = Math.trunc(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return create(DurationSchema, { seconds: BigInt(seconds), nanos });
}
