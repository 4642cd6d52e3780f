// Shared by wait_serving.mjs and scenario.mjs: @grpc/grpc-js + @grpc/proto-loader from
// $OUTREACH_NODE_MODULES (default tests/e2e/node_modules), the public API from protos/.
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

export function healthClient(address) {
  const def = protoLoader.fromJSON(healthJson, loadOptions);
  const Health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
  return new Health(address, grpc.credentials.createInsecure());
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
