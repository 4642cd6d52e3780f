// usage: node wait_serving.mjs TIMEOUT_S svc=host:port...
// Polls grpc.health.v1 Check for outreach.<svc>.v1.<Svc>Service on each address until every one
// answers SERVING; exit 1 after TIMEOUT_S seconds. Prints each target's time to SERVING (a
// service may be named several times: one target per replica).
import { call, healthClient, sleep } from "./grpc_clients.mjs";

const [timeoutS, ...targets] = process.argv.slice(2);
const t0 = Date.now();
const deadline = t0 + Number(timeoutS) * 1000;
const pending = new Map(
  targets.map((t) => {
    const [svc, address] = t.split("=");
    const name = `outreach.${svc}.v1.${svc[0].toUpperCase()}${svc.slice(1)}Service`;
    return [t, { svc, name, address, client: healthClient(address), last: "no answer" }];
  }),
);
while (pending.size && Date.now() < deadline) {
  for (const [key, p] of pending) {
    try {
      const res = await call(p.client, "Check", { service: p.name }, 1000);
      p.last = res.status;
      if (res.status === "SERVING") {
        console.log(`    ${p.svc} at ${p.address}: ${p.name} SERVING after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
        p.client.close();
        pending.delete(key);
      }
    } catch (err) {
      p.last = err.details || err.message;
    }
  }
  if (pending.size) await sleep(200);
}
for (const p of pending.values()) {
  console.error(`    ${p.svc}: not SERVING at ${p.address} after ${timeoutS}s (last: ${p.last})`);
  p.client.close();
}
process.exit(pending.size ? 1 : 0);
