// Error boxes: an RPC error shown where the user acted, with each
// validation violation on a line of its own.
import { h, replace } from "./dom.js";
import { DistcacheError } from "./sdk.js";

/** showError fills box, an element with role="alert", with err and
 *  shows it. */
export function showError(box: HTMLElement, err: unknown): void {
  replace(box, ...describe(err));
  box.hidden = false;
}

/** clearError empties and hides box. */
export function clearError(box: HTMLElement): void {
  box.replaceChildren();
  box.hidden = true;
}

/** codeIs reports whether a Connect code, written either way
 *  ("invalid_argument" or "InvalidArgument"), is want. */
export function codeIs(code: string, want: string): boolean {
  const norm = (c: string) => c.toLowerCase().replace(/[^a-z]/g, "");
  return norm(code) === norm(want);
}

function describe(err: unknown): (Node | string)[] {
  if (!(err instanceof DistcacheError)) {
    const message = err instanceof Error ? err.message : String(err);
    return [h("strong", {}, "Error"), " ", message];
  }
  if (codeIs(err.code, "invalid_argument") && err.violations.length > 0) {
    const items = err.violations.map((v) =>
      h("li", {}, h("code", {}, v.field || "request"), `: ${v.message} `, h("span", { className: "rule" }, `(${v.rule})`)),
    );
    return [h("strong", {}, "The node refused the request:"), h("ul", {}, ...items)];
  }
  // Connect errors' messages may start with the code, which the label says.
  const message = err.message.replace(/^\[[a-z_]+\]\s*/, "");
  const parts: (Node | string)[] = [h("strong", {}, label(err.code)), " " + message];
  if (codeIs(err.code, "unauthenticated") || codeIs(err.code, "permission_denied")) {
    parts.push(h("div", { className: "hint" }, "Check the admin token: it must be the one the node was started with (--admin-token)."));
  }
  return parts;
}

/** label turns a code into words: "not_found" becomes "Not found:". */
function label(code: string): string {
  const words = code
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .replace(/_/g, " ")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1) + ":";
}
