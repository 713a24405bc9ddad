// The Plugins section: the loaded plugin modules, and a policy switcher
// per group that needs the admin token.
import { h, replace } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { clock, date } from "./format.js";
import { type GroupStats, type Plugin, PluginKind, PluginOrigin } from "./sdk.js";

const kindNames: Partial<Record<PluginKind, string>> = {
  [PluginKind.POLICY]: "policy",
  [PluginKind.LOADER]: "loader",
};

const originNames: Partial<Record<PluginOrigin, string>> = {
  [PluginOrigin.BUILTIN]: "built-in",
  [PluginOrigin.FILE]: "file",
};

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
      plugins.map((p) => [p.name, p.sha256, p.origin, p.groups]),
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
    const head = h("tr", {}, ...["Plugin", "Kind", "Origin", "SHA-256", "Loaded", "Groups"].map((c) => h("th", { scope: "col" }, c)));
    const rows = this.plugins.map((p) => {
      const loaded = date(p.loadedAt);
      return h(
        "tr",
        { "data-plugin": p.name },
        h("td", { className: "mono" }, p.name),
        h("td", {}, kindNames[p.kind] ?? "unknown"),
        h("td", { title: p.file || "compiled into the node" }, originNames[p.origin] ?? "—"),
        h("td", { className: "mono", title: p.sha256 }, p.sha256.slice(0, 12)),
        h("td", {}, loaded ? clock(loaded) : "—"),
        h("td", {}, p.groups.length > 0 ? p.groups.join(", ") : "—"),
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
