// Shared by wait_serving.mjs and scenario.mjs: @grpc/grpc-js + @grpc/proto-loader from
// $OUTREACH_NODE_MODULES (default tests/e2e/node_modules), the public API from protos/.
// The services listen with TLS: $OUTREACH_TLS_CA_FILE verifies them, and every call carries
// "authorization: Bearer <$OUTREACH_TOKEN_FILE>" (re-read per call, as common/client.h does).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.OUTREACH_NODE_MODULES ?? join(here, "../../tests/e2e/node_modules");
const require = createRequire(join(resolve(nodeModules), "index.js"));
export const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const loadOptions = { keepCase: true, enums: String, longs: Number, defaults: true, oneofs: true };

// grpc.health.v1 (the standard service), described inline so no .proto file is needed.
const healthJson = {
  nested: { grpc: { nested: { health: { nested: { v1: { nested: {
    HealthCheckRequest: { fields: { service: { type: "string", id: 1 } } },
    HealthCheckResponse: {
      fields: { status: { type: "ServingStatus", id: 1 } },
      nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
    },
    Health: { methods: { Check: { requestType: "HealthCheckRequest", responseType: "HealthCheckResponse" } } },
  } } } } } } },
};

// TLS to the suite's CA plus the bearer token; refuses to run without the CA (plaintext is for
// loopback development only, and the containers never listen without TLS).
export function credentials() {
  const ca = process.env.OUTREACH_TLS_CA_FILE;
  if (!ca) throw new Error("OUTREACH_TLS_CA_FILE is not set (the CA that signs the services)");
  const tls = grpc.credentials.createSsl(readFileSync(ca));
  const tokenFile = process.env.OUTREACH_TOKEN_FILE;
  if (!tokenFile) return tls;
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, done) => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${readFileSync(tokenFile, "utf8").trim()}`);
    done(null, metadata);
  });
  return grpc.credentials.combineChannelCredentials(tls, bearer);
}

export function healthClient(address) {
  const def = protoLoader.fromJSON(healthJson, loadOptions);
  const Health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
  return new Health(address, credentials());
}

export function loadApi(protoDir, files) {
  const def = protoLoader.loadSync(files, { ...loadOptions, includeDirs: [protoDir] });
  return grpc.loadPackageDefinition(def);
}

// Promise wrapper with a deadline on every call.
export function call(client, method, request, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) {
        err.message = `${method}: ${err.message}`;
        reject(err);
      } else resolve(res);
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
