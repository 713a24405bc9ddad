// A hand-drawn SVG line chart of one group's hit ratio over time.
import { s } from "./dom.js";
import { percent } from "./format.js";

/** Point is one sample: when it was taken (ms since the epoch) and the
 *  hit ratio then, from 0 to 1. */
export interface Point {
  t: number;
  ratio: number;
}

// The drawing's own coordinates; the SVG scales to its box.
const width = 360;
const height = 120;
const left = 36; // room for the y labels
const right = 8;
const top = 8;
const bottom = 18; // room for the x labels
const plotW = width - left - right;
const plotH = height - top - bottom;

/** hitRatioChart draws points over the windowMs before now: y from 0% to
 *  100%, the newest sample at the right edge's "now". */
export function hitRatioChart(points: readonly Point[], windowMs: number, now: number, label: string): SVGSVGElement {
  const x = (t: number) => left + ((t - (now - windowMs)) / windowMs) * plotW;
  const y = (ratio: number) => top + (1 - ratio) * plotH;
  const last = points[points.length - 1];
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    className: "chart",
    role: "img",
    "aria-label": last ? `${label}: ${percent(last.ratio)} now` : `${label}: no samples yet`,
  });
  for (const ratio of [0, 0.5, 1]) {
    svg.append(
      s("line", { x1: left, x2: width - right, y1: y(ratio), y2: y(ratio), className: "grid" }),
      s("text", { x: left - 6, y: y(ratio) + 3.5, className: "axis", "text-anchor": "end" }, percent(ratio, 0)),
    );
  }
  const minutes = windowMs / 60000;
  svg.append(
    s("text", { x: left, y: height - 4, className: "axis" }, `−${minutes} min`),
    s("text", { x: width - right, y: height - 4, className: "axis", "text-anchor": "end" }, "now"),
  );
  const shown = points.filter((p) => p.t >= now - windowMs);
  if (shown.length === 0) {
    svg.append(s("text", { x: left + plotW / 2, y: top + plotH / 2, className: "empty", "text-anchor": "middle" }, "waiting for samples…"));
    return svg;
  }
  const coords = shown.map((p) => `${x(p.t).toFixed(1)},${y(p.ratio).toFixed(1)}`);
  const first = shown[0]!;
  const newest = shown[shown.length - 1]!;
  svg.append(
    s("polygon", {
      points: `${x(first.t).toFixed(1)},${y(0)} ${coords.join(" ")} ${x(newest.t).toFixed(1)},${y(0)}`,
      className: "area",
    }),
    s("polyline", { points: coords.join(" "), className: "line" }),
    s("circle", { cx: x(newest.t).toFixed(1), cy: y(newest.ratio).toFixed(1), r: 3, className: "dot" }),
  );
  return svg;
}
