// A real distcache node for the tests: built once per test process from
// the repository's ./server, started on a free loopback port with its own
// database and plugins directory, stopped with SIGTERM.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** ADMIN_TOKEN is the --admin-token every test node starts with. */
export const ADMIN_TOKEN = "tok";

/** TestNode is one running node process. */
export interface TestNode {
  /** baseUrl is http://127.0.0.1:<port>. */
  baseUrl: string;
  /** stop sends SIGTERM, waits for the exit and removes the node's files. */
  stop(): Promise<void>;
}

/** repoRoot is the nearest directory above this file holding go.mod. */
function repoRoot(): string {
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
  const bin = await buildNode();
  const dir = await mkdtemp(join(tmpdir(), "distcache-ts-node-"));
  await mkdir(join(dir, "plugins"));
  const port = await freePort();
  // DISTCACHE_* variables would configure the node; the test's flags alone do.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DISTCACHE_")));
  const proc = spawn(
    bin,
    [
      "--addr", `127.0.0.1:${port}`,
      "--db", join(dir, "d.db"),
      "--plugins", join(dir, "plugins"),
      "--plugin-cache=",
      "--admin-token", ADMIN_TOKEN,
      "--log-level", "warn",
      "--shutdown-delay", "0s",
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
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(baseUrl, exited, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, stop };
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
