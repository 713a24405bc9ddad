// Builds the console into ../dist: app.js (src/main.ts and the TypeScript
// SDK it imports, bundled and minified), index.html and style.css.
// The options are fixed and the output carries no timestamps or absolute
// paths, so a build from the same sources gives the same bytes; the Go
// package server/ui embeds ../dist.
import { build } from "esbuild";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "..", "dist");
const sdkPackage = join(here, "..", "..", "..", "sdk", "ts", "package.json");

// The SDK's runtime dependencies are resolved from this directory's
// node_modules (pinned by its package-lock.json), whether or not
// sdk/ts/node_modules exists, so the bundle does not depend on what else
// happens to be installed. Their versions must match the SDK's.
const sdkDeps = /^@(bufbuild|connectrpc)\//;

async function checkVersions() {
  const ours = JSON.parse(await readFile(join(here, "package.json"), "utf8")).dependencies;
  const theirs = JSON.parse(await readFile(sdkPackage, "utf8")).dependencies ?? {};
  const wrong = Object.keys(theirs)
    .filter((name) => ours[name] !== theirs[name])
    .map((name) => `${name}: sdk/ts wants ${theirs[name]}, server/ui/web has ${ours[name] ?? "none"}`);
  if (wrong.length > 0) {
    throw new Error(`server/ui/web/package.json must list the SDK's dependencies:\n  ${wrong.join("\n  ")}`);
  }
}

const resolveFromHere = {
  name: "sdk-deps-from-console",
  setup(b) {
    b.onResolve({ filter: sdkDeps }, (args) => {
      if (args.pluginData === "here") return undefined;
      return b.resolve(args.path, { kind: args.kind, resolveDir: here, pluginData: "here" });
    });
  },
};

await checkVersions();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outfile: join(dist, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  legalComments: "none",
  sourcemap: false,
  charset: "utf8",
  logLevel: "warning",
  plugins: [resolveFromHere],
});
await copyFile(join(here, "index.html"), join(dist, "index.html"));
await copyFile(join(here, "style.css"), join(dist, "style.css"));
console.log("built", dist);
