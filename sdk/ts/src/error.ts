import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";

import {
  type FieldPath,
  type Violation as ViolationMessage,
  ViolationsSchema,
} from "./gen/buf/validate/validate_pb.js";
import type { KeyError } from "./gen/distcache/v1/cache_pb.js";

/**
 * Violation is one broken validation rule of a request, as the node's
 * protovalidate check reports it in a `buf.validate.Violations` detail.
 */
export interface Violation {
  /** field is the path of the offending field, e.g. "key" or "a.b[0]". */
  field: string;
  /** rule is the id of the broken rule, e.g. "string.min_bytes". */
  rule: string;
  /** message says what is wrong, for people. */
  message: string;
}

/**
 * DistcacheError is what every {@link DistcacheClient} method rejects with.
 *
 * code is the Connect code name, the same in every protocol: "not_found",
 * "invalid_argument" (then violations names each broken rule),
 * "unavailable", "unauthenticated", "permission_denied",
 * "deadline_exceeded", "resource_exhausted", "canceled", "unknown", ...
 * cause is the original error, usually a ConnectError.
 */
export class DistcacheError extends Error {
  /** code is the Connect code name, e.g. "not_found". */
  readonly code: string;
  /** violations are the broken validation rules; empty for other errors. */
  readonly violations: Violation[];
  /** cause is the error this one was made from, if any. */
  override readonly cause?: unknown;

  constructor(
    code: string,
    message: string,
    options: { violations?: Violation[]; cause?: unknown } = {},
  ) {
    super(message);
    this.name = "DistcacheError";
    this.code = code;
    this.violations = options.violations ?? [];
    this.cause = options.cause;
  }

  /**
   * from converts any error into a DistcacheError: a DistcacheError is
   * returned as is, a ConnectError keeps its code and validation details,
   * a fetch that got no response (network error, CORS refusal) becomes
   * "unavailable", anything else "unknown" ("canceled" for an abort). Use it
   * on errors from the raw {@link DistcacheClient.cache} clients.
   */
  static from(reason: unknown): DistcacheError {
    if (reason instanceof DistcacheError) {
      return reason;
    }
    const err = ConnectError.from(reason);
    if (err.code === Code.Unknown && err.cause instanceof TypeError) {
      // fetch rejects with a TypeError when it gets no response at all.
      return new DistcacheError(
        "unavailable",
        `[unavailable] ${err.rawMessage} (the node is unreachable, or CORS did not allow this origin)`,
        { cause: reason },
      );
    }
    return new DistcacheError(codeToString(err.code), err.message, {
      violations: violationsOf(err),
      cause: reason,
    });
  }
}

/**
 * fromKeyError makes the DistcacheError of one key of a batch, or one call
 * of a pipeline: the code, message and violations the single call would
 * have rejected with.
 */
export function fromKeyError(ke: KeyError): DistcacheError {
  return new DistcacheError(ke.code, `[${ke.code}] ${ke.message}`, {
    violations: ke.violations.map((v: ViolationMessage) => ({
      field: fieldPath(v.field),
      rule: v.ruleId,
      message: v.message,
    })),
  });
}

/** violationsOf reads the buf.validate.Violations details of err. */
function violationsOf(err: ConnectError): Violation[] {
  return err.findDetails(ViolationsSchema).flatMap((d) =>
    d.violations.map((v: ViolationMessage) => ({
      field: fieldPath(v.field),
      rule: v.ruleId,
      message: v.message,
    })),
  );
}

/**
 * fieldPath writes a protovalidate field path the way protovalidate does:
 * names joined with ".", subscripts in brackets (a.b[0], m["k"]).
 */
export function fieldPath(path: FieldPath | undefined): string {
  let out = "";
  for (const e of path?.elements ?? []) {
    const name = e.fieldName || String(e.fieldNumber);
    out += out === "" ? name : "." + name;
    switch (e.subscript.case) {
      case "index":
      case "intKey":
      case "uintKey":
      case "boolKey":
        out += `[${e.subscript.value}]`;
        break;
      case "stringKey":
        out += `[${JSON.stringify(e.subscript.value)}]`;
        break;
    }
  }
  return out;
}

/**
 * call runs an RPC and turns its failure into a DistcacheError.
 */
export async function call<T>(rpc: () => Promise<T>): Promise<T> {
  try {
    return await rpc();
  } catch (reason) {
    throw DistcacheError.from(reason);
  }
}
