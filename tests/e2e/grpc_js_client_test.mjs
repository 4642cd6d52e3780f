// Checks a server built on the common runtime with a client that is not ours: @grpc/grpc-js
// loading the standard health and reflection .proto files, over TLS with a bearer token as any
// client of the suite. Makes certificates with scripts/dev-pki.sh and a token with the
// outreach-token binary, starts the probe server as a real process (TLS, the JWKS, the shipped
// policy, --reflection), asks health (overall and per service, with no token: health is open),
// lists services by reflection with a token and is refused without one, then sends SIGTERM and
// expects exit code 0.
//
// usage: node grpc_js_client_test.mjs <probe-server-binary> <grpc-proto-dir> <reflection-dir>
//        <outreach-token-binary> <dev-pki.sh> <policy.json>
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [binary, grpcProtoDir, reflectionDir, tokenBinary, devPki, policyFile] =
  process.argv.slice(2);
let failures = 0;
let passed = 0;
function check(condition, what) {
  console.log(`${condition ? "ok  " : "FAIL"} ${what}`);
  if (condition) passed++;
  else failures++;
}

const dataDir = mkdtempSync(join(tmpdir(), "outreach-js-"));
const pki = join(dataDir, "pki");
execFileSync(devPki, [pki], {
  env: { ...process.env, OUTREACH_TOKEN_BIN: tokenBinary },
  stdio: ["ignore", "ignore", "inherit"],
});
// The token of a force administrator, signed with the key whose JWKS the server trusts.
const token = execFileSync(tokenBinary, [
  "mint", "--key", join(pki, "signing.pem"), "--kid", "dev-1",
  "--issuer", "https://outreach.local/dev", "--audience", "outreach",
  "--subject", "grpc-js-client", "--force", "derbyshire", "--role", "force_admin",
  "--lifetime", "10m",
]).toString().trim();
const server = spawn(binary, [
  `--db-path=${join(dataDir, "probe.db")}`,
  // Any of the development certificates serves: each names localhost and 127.0.0.1.
  `--tls-cert-file=${join(pki, "metrics.pem")}`, `--tls-key-file=${join(pki, "metrics.key")}`,
  `--tls-ca-file=${join(pki, "ca.pem")}`, `--jwks-file=${join(pki, "jwks.json")}`,
  `--policy-file=${policyFile}`, "--reflection",
], { stdio: ["ignore", "ignore", "pipe"] });
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
  const tls = grpc.credentials.createSsl(readFileSync(join(pki, "ca.pem")));
  const withToken = () => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    return metadata;
  };
  const health = new Health(address, tls);
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
  const reflection = new Reflection(address, tls);
  // One list_services request; resolves to the first response message.
  const reflect = (metadata) =>
    new Promise((resolve, reject) => {
      const call = reflection.ServerReflectionInfo(metadata, { deadline: Date.now() + 5000 });
      call.on("data", (res) => {
        resolve(res);
        call.end();
      });
      call.on("error", reject);
      call.write({ list_services: "" });
    });
  const listed = await reflect(withToken());
  const services = (listed.list_services_response?.service ?? []).map((s) => s.name);
  check(services.includes("outreach.testing.v1.ProbeService"),
        `reflection lists outreach.testing.v1.ProbeService (got ${services.join(", ")})`);
  check(services.includes("grpc.health.v1.Health"), "reflection lists grpc.health.v1.Health");
  // Without a token the server answers nothing about itself (common/security/interceptor.cc:
  // the request is emptied, and reflection answers an empty request with an error).
  const anonymous = await reflect(new grpc.Metadata());
  check(!anonymous.list_services_response && anonymous.error_response?.error_code === 12,
        `reflection refuses a caller with no token (got ${JSON.stringify(anonymous)})`);
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
