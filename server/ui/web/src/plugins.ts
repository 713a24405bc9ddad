// The Plugins section: the loaded plugin modules with their state (serving
// or failed, failures, the last one, what serves each group), and a policy
// switcher per group that needs the admin token.
import { h, replace } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { clock, count, date } from "./format.js";
import {
  type GroupStats,
  type Plugin,
  type PluginFailure,
  type PluginGroup,
  PluginGroupState,
  PluginKind,
  PluginOrigin,
  PluginState,
} from "./sdk.js";

const kindNames: Partial<Record<PluginKind, string>> = {
  [PluginKind.POLICY]: "policy",
  [PluginKind.LOADER]: "loader",
};

const originNames: Partial<Record<PluginOrigin, string>> = {
  [PluginOrigin.BUILTIN]: "built-in",
  [PluginOrigin.FILE]: "file",
};

/** stateNames name a plugin's state, with the class that colours it; a
 *  node too old to say has PluginState.UNSPECIFIED, shown as unknown. */
const stateNames: Partial<Record<PluginState, [name: string, className: string]>> = {
  [PluginState.SERVING]: ["serving", "state state-alive"],
  [PluginState.FAILED]: ["failed", "state state-suspect"],
};

/** groupStateNames say what serves a group that uses a plugin. */
const groupStateNames: Partial<Record<PluginGroupState, string>> = {
  [PluginGroupState.SERVING]: "plugin",
  [PluginGroupState.NATIVE_FALLBACK]: "native fallback",
};

/** shownError is how many characters of a failure's message the table
 *  shows; the cell's title holds all of it. */
const shownError = 160;

/** SwitchPolicy asks the node to give group the policy plugin and returns
 *  the group's policy afterwards. */
export type SwitchPolicy = (group: string, policy: string) => Promise<string>;

/** Plugins renders ListPlugins answers and the groups' policy switchers.
 *  It redraws only when what it shows changes, so a select the user is
 *  working with is not reset by a refresh. */
export class Plugins {
  private shown = "";
  private plugins: readonly Plugin[] = [];
  private stats: readonly GroupStats[] = [];

  constructor(
    private readonly pluginBox: HTMLElement,
    private readonly policyBox: HTMLElement,
    private readonly errorBox: HTMLElement,
    private readonly hasToken: () => boolean,
    private readonly switchPolicy: SwitchPolicy,
    private readonly refresh: () => void,
  ) {}

  /** update shows plugins (undefined keeps the last list) and the
   *  policies of the groups in stats. */
  update(plugins: readonly Plugin[] | undefined, stats: readonly GroupStats[]): void {
    plugins ??= this.plugins;
    const key = JSON.stringify([
      plugins.map((p) => [
        p.name,
        p.sha256,
        p.origin,
        p.groups,
        p.state,
        p.groupStates.map((g) => [g.group, g.state]),
        String(p.failures),
        p.lastFailure ? [p.lastFailure.reason, p.lastFailure.error, String(p.lastFailure.failedAt?.seconds)] : null,
      ]),
      stats.map((g) => [g.group, g.policy]),
    ]);
    this.plugins = plugins;
    this.stats = stats;
    if (key === this.shown) return;
    this.shown = key;
    this.renderPlugins();
    this.renderPolicies();
  }

  /** tokenChanged enables or disables the switch buttons. */
  tokenChanged(): void {
    for (const b of this.policyBox.querySelectorAll<HTMLButtonElement>("button[data-policy-switch]")) {
      b.disabled = !this.canSwitch();
    }
    this.policyBox.querySelector(".hint")?.toggleAttribute("hidden", this.canSwitch());
  }

  private canSwitch(): boolean {
    return this.hasToken() && this.policies().length > 0;
  }

  private policies(): Plugin[] {
    return this.plugins.filter((p) => p.kind === PluginKind.POLICY);
  }

  private renderPlugins(): void {
    if (this.plugins.length === 0) {
      replace(
        this.pluginBox,
        h(
          "p",
          { className: "empty" },
          "No plugins loaded: the node runs with ",
          h("code", {}, "--builtin-plugins=false"),
          " and its plugins directory has none. Build the shipped ones with ",
          h("code", {}, "go tool task plugins"),
          "; the node picks them up from there.",
        ),
      );
      return;
    }
    const columns = ["Plugin", "Kind", "Origin", "SHA-256", "Loaded", "State", "Failures", "Last failure", "Groups"];
    const head = h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c)));
    const rows = this.plugins.map((p) => {
      const loaded = date(p.loadedAt);
      const [state, stateClass] = stateNames[p.state] ?? ["unknown", "state state-unknown"];
      return h(
        "tr",
        { "data-plugin": p.name },
        h("td", { className: "mono" }, p.name),
        h("td", {}, kindNames[p.kind] ?? "unknown"),
        h("td", { title: p.file || "compiled into the node" }, originNames[p.origin] ?? "—"),
        h("td", { className: "mono", title: p.sha256 }, p.sha256.slice(0, 12)),
        h("td", {}, loaded ? clock(loaded) : "—"),
        h("td", {}, h("span", { className: stateClass, "data-state": state }, state)),
        h("td", { "data-failures": String(p.failures) }, count(p.failures)),
        failureCell(p.lastFailure),
        h("td", {}, ...groupList(p)),
      );
    });
    replace(this.pluginBox, h("table", {}, h("thead", {}, head), h("tbody", {}, ...rows)));
  }

  private renderPolicies(): void {
    const policies = this.policies();
    const rows = this.stats.map((g) => this.policyRow(g, policies));
    replace(
      this.policyBox,
      h(
        "table",
        { className: "policies" },
        h("thead", {}, h("tr", {}, ...["Group", "Policy now", "Switch to"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...rows),
      ),
      h(
        "p",
        { className: "hint", hidden: this.canSwitch() },
        policies.length === 0 ? "No policy plugins are loaded." : "Enter the admin token above to switch policies.",
      ),
    );
  }

  private policyRow(g: GroupStats, policies: readonly Plugin[]): HTMLElement {
    const current = g.policy.split(" ")[0];
    const select = h(
      "select",
      { "aria-label": `New policy for group ${g.group}`, disabled: policies.length === 0 },
      ...(policies.length === 0
        ? [h("option", { value: "" }, "none loaded")]
        : policies.map((p) => h("option", { value: p.name, selected: p.name === current }, p.name))),
    );
    const button = h(
      "button",
      { type: "button", "data-policy-switch": g.group, disabled: !this.canSwitch() },
      "Switch",
    );
    button.addEventListener("click", () => void this.switchTo(g.group, select.value, button));
    return h(
      "tr",
      { "data-group": g.group },
      h("td", { className: "mono" }, g.group),
      h("td", {}, h("span", { className: "badge" }, g.policy || "—")),
      h("td", { className: "switch" }, select, button),
    );
  }

  private async switchTo(group: string, policy: string, button: HTMLButtonElement): Promise<void> {
    if (!policy) return;
    clearError(this.errorBox);
    button.disabled = true;
    try {
      await this.switchPolicy(group, policy);
      this.shown = ""; // redraw with the new policy
      this.refresh();
    } catch (err) {
      showError(this.errorBox, err);
    } finally {
      button.disabled = !this.canSwitch();
    }
  }
}

/** failureCell shows a plugin's last failure: its reason, group and time,
 *  and its message (as text; the title holds all of it). */
function failureCell(f: PluginFailure | undefined): HTMLElement {
  if (!f) return h("td", { "data-last-failure": "" }, "—");
  const at = date(f.failedAt);
  const where = [f.group ? `group ${f.group}` : "file refused", at ? clock(at) : ""].filter((s) => s !== "");
  const message = f.error.length > shownError ? `${f.error.slice(0, shownError)}…` : f.error;
  return h(
    "td",
    { "data-last-failure": f.error, title: f.error },
    h("span", { className: "badge" }, f.reason),
    ` ${where.join(", ")}: `,
    h("span", { className: "mono" }, message),
  );
}

/** groupList shows the groups that use a plugin, each with what serves
 *  it; a node too old to send group states gets the plain group names. */
function groupList(p: Plugin): (HTMLElement | string)[] {
  if (p.groupStates.length === 0) return [p.groups.length > 0 ? p.groups.join(", ") : "—"];
  return p.groupStates.flatMap((g: PluginGroup, i) => {
    const state = groupStateNames[g.state] ?? "unknown";
    const item = h(
      "span",
      { "data-plugin-group": g.group, "data-group-state": state },
      h("span", { className: "mono" }, g.group),
      ": ",
      h("span", { className: g.state === PluginGroupState.NATIVE_FALLBACK ? "state state-suspect" : "state" }, state),
    );
    return i === 0 ? [item] : [", ", item];
  });
}
