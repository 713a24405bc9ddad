import type { CallOptions } from "@connectrpc/connect";

import { DistcacheError } from "./error.js";

/** defaultAttemptTimeoutMs is ClientOptions.attemptTimeoutMs when it is
 * omitted. */
export const defaultAttemptTimeoutMs = 1000;

/** maxAttempts is how many attempts a retried call makes: the first and
 * one retry. */
const maxAttempts = 2;

/** maxRetryDelayMs caps the random delay before the retry. */
const maxRetryDelayMs = 50;

/** AttemptOptions are the ClientOptions that bound attempts. */
export interface AttemptOptions {
  attemptTimeoutMs?: number;
  timeoutMs?: number;
}

/**
 * checkAttemptOptions throws a TypeError for a timeout that is negative or
 * not a number.
 */
export function checkAttemptOptions(opts: AttemptOptions): void {
  for (const name of ["attemptTimeoutMs", "timeoutMs"] as const) {
    const v = opts[name];
    if (v !== undefined && !(typeof v === "number" && v >= 0 && !Number.isNaN(v))) {
      throw new TypeError(`distcache: ClientOptions.${name} must be a number >= 0, not ${String(v)}`);
    }
  }
}

/**
 * Attempts runs calls under a per-attempt timeout and, for idempotent
 * calls, retries once after an attempt that timed out or found the node
 * unavailable. timeoutMs bounds the whole call, retry included; running
 * out of it is never retried.
 */
export class Attempts {
  private readonly attemptMs: number; // 0: no per-attempt bound
  private readonly callMs: number | undefined;

  constructor(opts: AttemptOptions) {
    this.attemptMs = opts.attemptTimeoutMs ?? defaultAttemptTimeoutMs;
    this.callMs = opts.timeoutMs || undefined;
  }

  /** once runs rpc once, bounded by timeoutMs only: for calls that are
   * not safe to repeat, or may rightly take long. */
  once<T>(rpc: (opts: CallOptions) => Promise<T>): Promise<T> {
    return rpc({ timeoutMs: this.callMs });
  }

  /** retried runs rpc, which must be idempotent, under the per-attempt
   * timeout, with one retry. */
  async retried<T>(rpc: (opts: CallOptions) => Promise<T>): Promise<T> {
    const deadline = this.callMs === undefined ? undefined : Date.now() + this.callMs;
    for (let n = 1; ; n++) {
      const left = deadline === undefined ? undefined : Math.max(deadline - Date.now(), 1);
      const bound = this.attemptMs > 0 && (left === undefined || this.attemptMs < left) ? this.attemptMs : left;
      try {
        return await rpc({ timeoutMs: bound });
      } catch (reason) {
        const err = DistcacheError.from(reason);
        const attemptTimedOut = err.code === "deadline_exceeded" && bound === this.attemptMs && this.attemptMs > 0;
        if (n >= maxAttempts || !(attemptTimedOut || err.code === "unavailable")) {
          throw err;
        }
        const pause = Math.random() * maxRetryDelayMs;
        if (deadline !== undefined && Date.now() + pause >= deadline) {
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}
