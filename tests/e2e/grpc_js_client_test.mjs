// Checks a server built on the common runtime with a client that is not ours: @grpc/grpc-js
// loading the standard health and reflection .proto files. Starts the probe server as a real
// process, asks health (overall and per service), lists services by reflection, then sends
// SIGTERM and expects exit code 0.
//
// usage: node grpc_js_client_test.mjs <probe-server-binary> <grpc-proto-dir> <reflection-dir>
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [binary, grpcProtoDir, reflectionDir] = process.argv.slice(2);
let failures = 0;
let passed = 0;
function check(condition, what) {
  console.log(`${condition ? "ok  " : "FAIL"} ${what}`);
  if (condition) passed++;
  else failures++;
}

const dataDir = mkdtempSync(join(tmpdir(), "outreach-js-"));
const server = spawn(binary, [`--db-path=${join(dataDir, "probe.db")}`], {
  stdio: ["ignore", "ignore", "pipe"],
});
let stderr = "";
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("server did not log grpc_port")), 20000);
  server.stderr.on("data", (chunk) => {
    stderr += chunk;
    const m = stderr.match(/grpc_port=(\d+)/);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  });
  server.on("exit", (code) => reject(new Error(`server exited early (${code}): ${stderr}`)));
});
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));

try {
  const address = `127.0.0.1:${port}`;
  const loadOptions = { keepCase: true, enums: String, defaults: true };
  const healthDef = protoLoader.loadSync("grpc/health/v1/health.proto", {
    ...loadOptions,
    includeDirs: [grpcProtoDir],
  });
  const Health = grpc.loadPackageDefinition(healthDef).grpc.health.v1.Health;
  const health = new Health(address, grpc.credentials.createInsecure());
  const ask = (service) =>
    new Promise((resolve, reject) =>
      health.check({ service }, { deadline: Date.now() + 5000 }, (err, res) =>
        err ? reject(err) : resolve(res.status)));
  check((await ask("")) === "SERVING", "health overall is SERVING");
  check((await ask("outreach.testing.v1.ProbeService")) === "SERVING",
        "health of outreach.testing.v1.ProbeService is SERVING");
  let notFound = null;
  await ask("no.such.Service").catch((err) => { notFound = err.code; });
  check(notFound === grpc.status.NOT_FOUND, "health of an unknown service is NOT_FOUND");

  const reflectionDef = protoLoader.loadSync("reflection.proto", {
    ...loadOptions,
    includeDirs: [reflectionDir],
  });
  const Reflection =
    grpc.loadPackageDefinition(reflectionDef).grpc.reflection.v1alpha.ServerReflection;
  const reflection = new Reflection(address, grpc.credentials.createInsecure());
  const services = await new Promise((resolve, reject) => {
    const call = reflection.ServerReflectionInfo({ deadline: Date.now() + 5000 });
    call.on("data", (res) => {
      resolve((res.list_services_response?.service ?? []).map((s) => s.name));
      call.end();
    });
    call.on("error", reject);
    call.write({ list_services: "" });
  });
  check(services.includes("outreach.testing.v1.ProbeService"),
        `reflection lists outreach.testing.v1.ProbeService (got ${services.join(", ")})`);
  check(services.includes("grpc.health.v1.Health"), "reflection lists grpc.health.v1.Health");
  health.close();
  reflection.close();
} catch (err) {
  check(false, `client error: ${err.message}`);
}

server.kill("SIGTERM");
const { code } = await Promise.race([
  exited,
  new Promise((resolve) => setTimeout(() => resolve({ code: "timeout" }), 15000)),
]);
check(code === 0, `server exited 0 after SIGTERM (got ${code})`);
if (code === "timeout") server.kill("SIGKILL");
rmSync(dataDir, { recursive: true, force: true });
console.log(`grpc-js client: ${passed} checks passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
