// The Keys section: get, set and delete one key of one group, showing
// the node's answer or its error.
import { byId, h, replace } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { bytes, duration } from "./format.js";
import type { DistcacheClient, Value } from "./sdk.js";

/** Keys wires the key explorer's form (#group, #key, #value, #ttl, #get,
 *  #set, #delete) to a client and writes answers to #result and errors to
 *  #error. */
export class Keys {
  private readonly group = byId<HTMLSelectElement>("group");
  private readonly key = byId<HTMLInputElement>("key");
  private readonly value = byId<HTMLTextAreaElement>("value");
  private readonly ttl = byId<HTMLInputElement>("ttl");
  private readonly result = byId("result");
  private readonly error = byId("error");
  private readonly buttons = ["get", "set", "delete"].map((id) => byId<HTMLButtonElement>(id));
  private groups = "";

  /** afterChange is called after a Set or Delete, to refresh the stats. */
  constructor(
    private readonly client: DistcacheClient,
    private readonly afterChange: () => void,
  ) {
    byId("set").addEventListener("click", () => void this.run("set"));
    byId("delete").addEventListener("click", () => void this.run("delete"));
    // #get is the form's submit button, so Enter in a field gets too.
    byId("keys-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.run("get");
    });
  }

  /** setGroups fills the group select, keeping the chosen group. */
  setGroups(names: readonly string[]): void {
    const key = names.join("\n");
    if (key === this.groups) return;
    this.groups = key;
    const chosen = this.group.value;
    replace(this.group, ...names.map((n) => h("option", { value: n, selected: n === chosen }, n)));
  }

  private async run(op: "get" | "set" | "delete"): Promise<void> {
    const group = this.group.value;
    const key = this.key.value;
    clearError(this.error);
    replace(this.result, h("span", { className: "pending" }, `${op}…`));
    for (const b of this.buttons) b.disabled = true;
    try {
      switch (op) {
        case "get":
          this.showValue(group, key, await this.client.get(group, key));
          break;
        case "set": {
          const ttlMs = this.ttlMs();
          await this.client.set(group, key, this.value.value, ttlMs === undefined ? undefined : { ttlMs });
          this.showDone(`Stored ${quote(key)} in ${group}`, ttlMs === undefined ? "with the group's ttl" : ttlMs === 0 ? "never expires" : `expires in ${duration(ttlMs)}`);
          this.afterChange();
          break;
        }
        case "delete":
          await this.client.delete(group, key);
          this.showDone(`Deleted ${quote(key)} from ${group}`);
          this.afterChange();
          break;
      }
    } catch (err) {
      this.result.replaceChildren();
      showError(this.error, err);
    } finally {
      for (const b of this.buttons) b.disabled = false;
    }
  }

  /** ttlMs reads the TTL field in seconds: empty means the group's ttl
   *  (undefined), 0 means never expire. The node checks the range. */
  private ttlMs(): number | undefined {
    const text = this.ttl.value.trim();
    const seconds = Number(text);
    if (this.ttl.validity.badInput || !Number.isFinite(seconds)) {
      throw new Error("TTL must be a number of seconds; leave it empty for the group's ttl.");
    }
    return text === "" ? undefined : Math.round(seconds * 1000);
  }

  private showValue(group: string, key: string, v: Value): void {
    const text = decode(v.value);
    replace(
      this.result,
      h("div", { className: "result-head" }, `${quote(key)} in ${group}`),
      text === undefined
        ? h("pre", { className: "value binary", "data-field": "value" }, hex(v.value))
        : h("pre", { className: "value", "data-field": "value" }, text),
      h(
        "dl",
        { className: "meta" },
        h("dt", {}, "Size"),
        h("dd", {}, bytes(v.value.length) + (text === undefined ? " (binary, shown as hex)" : "")),
        h("dt", {}, "TTL"),
        h("dd", { "data-field": "ttl" }, v.ttlMs === undefined ? "never expires" : `${duration(v.ttlMs)} left`),
        h("dt", {}, "Source"),
        h("dd", { "data-field": "source" }, h("span", { className: `badge source-${v.source}` }, v.source)),
      ),
    );
  }

  private showDone(message: string, detail?: string): void {
    replace(this.result, h("div", { className: "done" }, message, detail && h("span", { className: "note" }, ` (${detail})`)));
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** decode returns b as text, or undefined when it is not UTF-8. */
function decode(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** hex shows the first 1 KiB of b in hex, 32 bytes a line. */
function hex(b: Uint8Array): string {
  const lines: string[] = [];
  const shown = b.subarray(0, 1024);
  for (let i = 0; i < shown.length; i += 32) {
    lines.push(Array.from(shown.subarray(i, i + 32), (x) => x.toString(16).padStart(2, "0")).join(" "));
  }
  if (b.length > shown.length) lines.push(`… ${b.length - shown.length} more bytes`);
  return lines.join("\n");
}

function quote(key: string): string {
  return key.length > 60 ? `“${key.slice(0, 57)}…”` : `“${key}”`;
}
