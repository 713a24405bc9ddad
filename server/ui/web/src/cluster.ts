// The Cluster section: the members of the answering node's ring, their
// state and each one's share of the keyspace.
import { h, replace } from "./dom.js";
import { ago, clock, date, percent } from "./format.js";
import { type Member, type MemberList, MemberState } from "./sdk.js";

const stateNames: Partial<Record<MemberState, string>> = {
  [MemberState.ALIVE]: "alive",
  [MemberState.SUSPECT]: "suspect",
};

/** renderMembers fills container with a table of list's members, the
 *  answering node's row marked. */
export function renderMembers(container: HTMLElement, list: MemberList, now: number): void {
  if (list.members.length === 0) {
    replace(container, h("p", { className: "empty" }, "The ring has no members yet."));
    return;
  }
  const head = h(
    "tr",
    {},
    ...["Member", "Address", "State", "Member since", "Ring share"].map((c) => h("th", { scope: "col" }, c)),
  );
  const rows = list.members.map((m) => memberRow(m, m.id === list.self, now));
  replace(
    container,
    h("table", { className: "members" }, h("thead", {}, head), h("tbody", {}, ...rows)),
    h(
      "p",
      { className: "note" },
      `${list.members.length} member${list.members.length === 1 ? "" : "s"}, ${list.replicas} virtual nodes each`,
    ),
  );
}

function memberRow(m: Member, self: boolean, now: number): HTMLElement {
  const state = stateNames[m.state] ?? "unknown";
  const since = date(m.since);
  return h(
    "tr",
    { className: self ? "self" : undefined, "data-member": m.id },
    h("td", {}, h("span", { className: "mono" }, m.id), self && h("span", { className: "tag" }, "this node")),
    h("td", { className: "mono" }, m.address),
    h("td", {}, h("span", { className: `state state-${state}` }, state)),
    h("td", { title: since ? clock(since) : "" }, since ? ago(since, now) : "—"),
    h(
      "td",
      { className: "share" },
      h("span", { className: "bar" }, h("span", { style: `width:${Math.min(100, m.ringShare * 100).toFixed(1)}%` })),
      h("span", { className: "num" }, percent(m.ringShare)),
    ),
  );
}
