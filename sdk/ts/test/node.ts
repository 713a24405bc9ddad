// Real distcache nodes for the tests: built once per test process from
// the repository's ./server, each started on a free loopback port with its
// own plugins directory (a node on its own, or a static cluster sharing a
// database), stopped with SIGTERM.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { createClient } from "@distcache/client";

/** ADMIN_TOKEN is the --admin-token every test node starts with. */
export const ADMIN_TOKEN = "tok";

/** TestNode is one running node process. */
export interface TestNode {
  /** baseUrl is http://127.0.0.1:<port>. */
  baseUrl: string;
  /** dir is the node's directory; its plugins directory is dir/plugins. */
  dir: string;
  /** stop sends SIGTERM, waits for the exit and removes the node's files. */
  stop(): Promise<void>;
}

/** repoRoot is the nearest directory above this file holding go.mod. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "go.mod"))) {
    const up = dirname(dir);
    if (up === dir) {
      throw new Error("no go.mod above " + fileURLToPath(import.meta.url));
    }
    dir = up;
  }
  return dir;
}

let binary: Promise<string> | undefined;

/** buildNode runs `go build ./server` once per process and returns the binary. */
function buildNode(): Promise<string> {
  binary ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "distcache-ts-bin-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, "distcache");
    try {
      await promisify(execFile)("go", ["build", "-o", out, "./server"], { cwd: repoRoot() });
    } catch (err) {
      throw new Error(`go build ./server failed (the tests need Go): ${(err as Error).message}`);
    }
    return out;
  })();
  return binary;
}

/** freePort asks the kernel for a free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** startNode starts a fresh node and resolves once it answers /metrics. */
export async function startNode(): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), "distcache-ts-node-"));
  const port = await freePort();
  return launch(port, dir, ["--db", join(dir, "d.db")], () => rm(dir, { recursive: true, force: true }));
}

/** TestCluster is nodes that know each other through a static peer list. */
export interface TestCluster {
  /** nodes are the members, nodes[i] with id "n<i>". */
  nodes: TestNode[];
  /** stop stops every node and removes their files. */
  stop(): Promise<void>;
}

/** startCluster starts n nodes with ids n0, n1, ... that know each other
 * through --peers and share one database file (--shared-db: the default
 * group writes through), and resolves once each lists all n members. */
export async function startCluster(n: number): Promise<TestCluster> {
  const root = await mkdtemp(join(tmpdir(), "distcache-ts-cluster-"));
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const peers = ports.map((p, i) => `n${i}=127.0.0.1:${p}`).join(",");
  const nodes: TestNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const [i, port] of ports.entries()) {
      const dir = join(root, `n${i}`);
      await mkdir(dir);
      const flags = [
        "--db", join(root, "shared.db"), "--shared-db",
        "--node-id", `n${i}`, "--advertise", `127.0.0.1:${port}`,
        "--peers", peers, "--cluster-secret", "ts-cluster-secret",
      ];
      nodes.push(await launch(port, dir, flags, async () => {}));
    }
    await Promise.all(nodes.map((node) => waitMembers(node.baseUrl, n)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, stop };
}

/** launch starts the node binary on port with its plugins directory in
 * dir and more flags, and resolves once it answers /metrics. Its stop
 * kills it, then calls cleanup. */
async function launch(port: number, dir: string, flags: string[], cleanup: () => Promise<void>): Promise<TestNode> {
  const bin = await buildNode();
  await mkdir(join(dir, "plugins"));
  // DISTCACHE_* variables would configure the node; the test's flags alone do.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DISTCACHE_")));
  const proc = spawn(
    bin,
    [
      "--addr", `127.0.0.1:${port}`,
      "--plugins", join(dir, "plugins"),
      "--plugin-cache=",
      "--admin-token", ADMIN_TOKEN,
      "--log-level", "warn",
      "--shutdown-delay", "0s",
      ...flags,
    ],
    { env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  proc.stderr?.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await kill(proc, exited);
    await cleanup();
  };
  try {
    await waitReady(baseUrl, exited, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, dir, stop };
}

/** waitMembers polls the node's member list for up to 30 s until it
 * has n members. */
async function waitMembers(baseUrl: string, n: number): Promise<void> {
  const client = createClient({ baseUrl, protocol: "connect" });
  const deadline = Date.now() + 30_000;
  let seen = "nothing";
  while (Date.now() < deadline) {
    try {
      const { members } = await client.members();
      if (members.length === n) {
        return;
      }
      seen = members.map((m) => m.id).join(",");
    } catch (err) {
      seen = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${baseUrl} did not list ${n} members within 30s; last saw ${seen}`);
}

/** waitPlugin polls the node's plugin list for up to 60 s until it lists
 * name (plugins load in the background after the node serves). */
export async function waitPlugin(baseUrl: string, name: string): Promise<void> {
  const client = createClient({ baseUrl, protocol: "connect" });
  const deadline = Date.now() + 60_000;
  let seen = "nothing";
  while (Date.now() < deadline) {
    try {
      const plugins = await client.plugins();
      if (plugins.some((p) => p.name === name)) {
        return;
      }
      seen = plugins.map((p) => p.name).join(",");
    } catch (err) {
      seen = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${baseUrl} did not load plugin ${name} within 60s; it lists ${seen}`);
}

/** waitReady polls /metrics for up to 30 s, failing early if the node exits. */
async function waitReady(baseUrl: string, exited: Promise<void>, stderr: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (gone) {
      throw new Error(`the node exited before it served:\n${stderr()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/metrics`);
      await res.arrayBuffer();
      if (res.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the node did not answer ${baseUrl}/metrics within 30s:\n${stderr()}`);
}

/** kill sends SIGTERM and waits; after 15 s it sends SIGKILL. */
async function kill(proc: ChildProcess, exited: Promise<void>): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return;
  }
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}
