// The Groups section: each group's counters, its memory use and a chart
// of its hit ratio over the last samples.
import { hitRatioChart, type Point } from "./chart.js";
import { h, replace } from "./dom.js";
import { bytes, count, percent } from "./format.js";
import type { GroupStats } from "./sdk.js";

/** Groups renders GetStats answers into a container and keeps each
 *  group's last samples of the hit ratio. */
export class Groups {
  private readonly history = new Map<string, Point[]>();

  /** container gets one card per group; maxPoints samples are kept per
   *  group, taken every intervalMs. */
  constructor(
    private readonly container: HTMLElement,
    private readonly maxPoints: number,
    private readonly intervalMs: number,
  ) {}

  /** update records a sample of every group taken at now and redraws. */
  update(stats: readonly GroupStats[], now: number): void {
    const seen = new Set<string>();
    for (const g of stats) {
      seen.add(g.group);
      const points = this.history.get(g.group) ?? [];
      points.push({ t: now, ratio: g.hitRatio });
      if (points.length > this.maxPoints) points.splice(0, points.length - this.maxPoints);
      this.history.set(g.group, points);
    }
    for (const name of this.history.keys()) {
      if (!seen.has(name)) this.history.delete(name);
    }
    if (stats.length === 0) {
      replace(this.container, h("p", { className: "empty" }, "This node serves no groups."));
      return;
    }
    replace(this.container, ...stats.map((g) => this.card(g, now)));
  }

  private card(g: GroupStats, now: number): HTMLElement {
    const windowMs = this.maxPoints * this.intervalMs;
    return h(
      "article",
      { className: "group", "data-group": g.group },
      h("header", {}, h("h3", {}, g.group), h("span", { className: "badge", title: "eviction policy" }, g.policy || "—")),
      h(
        "div",
        { className: "group-body" },
        h("div", {}, this.counters(g), this.usage(g)),
        h(
          "figure",
          {},
          hitRatioChart(this.history.get(g.group) ?? [], windowMs, now, `Hit ratio of group ${g.group}`),
          h("figcaption", {}, `Hit ratio (hits ÷ gets since the node started), sampled every ${this.intervalMs / 1000} s`),
        ),
      ),
    );
  }

  private counters(g: GroupStats): HTMLElement {
    const stat = (name: string, key: string, value: string, title?: string) =>
      h("div", { className: "stat", title }, h("dt", {}, name), h("dd", { "data-stat": key }, value));
    return h(
      "dl",
      { className: "stats" },
      stat("Gets", "gets", count(g.gets)),
      stat("Hits", "hits", count(g.hits), `of which ${count(g.hotHits)} from hot copies`),
      stat("Misses", "misses", count(g.misses)),
      stat("Hit ratio", "hit-ratio", percent(g.hitRatio)),
      stat("Items", "items", count(g.items), `of which ${count(g.hotItems)} hot copies`),
      stat("Loads", "loads", count(g.loads), `${count(g.loadErrors)} failed`),
      stat("Evictions", "evictions", count(g.evictions)),
      stat("Expirations", "expirations", count(g.expirations)),
      stat("Peer fetches", "peer-fetches", count(g.peerFetches), `${count(g.peerErrors)} owners unreachable`),
    );
  }

  private usage(g: GroupStats): HTMLElement {
    const used = g.capacity > 0n ? Number(g.bytes) / Number(g.capacity) : 0;
    return h(
      "div",
      { className: "usage" },
      h("span", { "data-stat": "bytes" }, `${bytes(g.bytes)} of ${bytes(g.capacity)}`),
      h("span", { className: "bar", title: `${percent(used)} of capacity` }, h("span", { style: `width:${Math.min(100, used * 100).toFixed(1)}%` })),
    );
  }
}
