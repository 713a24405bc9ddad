// Formatting of counters, sizes, times and errors for display.

/** Timestamp is the shape of google.protobuf.Timestamp in protobuf-es. */
export interface Timestamp {
  seconds: bigint;
  nanos: number;
}

const integer = new Intl.NumberFormat("en-US");

/** count formats a counter with thousands separators. */
export function count(n: bigint | number): string {
  return integer.format(n);
}

/** bytes formats a size in binary units: 0 B, 1.5 KiB, 64 MiB. */
export function bytes(n: bigint | number): string {
  let v = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : 1;
  return `${v.toFixed(digits)} ${units[u]}`;
}

/** percent formats a fraction (0.5) as a percentage (50.0%). */
export function percent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** date returns a Timestamp as a Date, or undefined when it is absent. */
export function date(ts: Timestamp | undefined): Date | undefined {
  if (!ts) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
}

/** clock formats a time as the local date and time, to the second. */
export function clock(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** duration formats milliseconds in its two largest units: 5s, 3m 20s,
 *  2h 0m, 4d 1h. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const units: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  const found = units.findIndex(([size]) => total >= size);
  const i = found < 0 ? units.length - 1 : found;
  const [size, unit] = units[i]!;
  const first = `${Math.floor(total / size)}${unit}`;
  const next = units[i + 1];
  if (!next) return first;
  return `${first} ${Math.floor((total % size) / next[0])}${next[1]}`;
}

/** ago formats how long before now a time was: "3m 20s ago". */
export function ago(d: Date, now = Date.now()): string {
  return `${duration(now - d.getTime())} ago`;
}
