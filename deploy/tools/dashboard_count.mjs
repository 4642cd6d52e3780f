// usage: node dashboard_count.mjs PROTO_DIR METRICS_ADDR FORCE
// Prints workshops_delivered of the force's academic-year dashboard (used after a restart to
// prove the stores live on the volumes, not in the containers).
import { call, credentials, loadApi } from "./grpc_clients.mjs";

const [protoDir, metricsAddr, force] = process.argv.slice(2);
const api = loadApi(protoDir, ["outreach/metrics/v1/metrics.proto"]);
const metrics = new api.outreach.metrics.v1.MetricsService(metricsAddr, credentials());
const parts = Object.fromEntries(
  new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
const anchor = { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day) };
try {
  const d = await call(metrics, "GetDashboard", {
    name: `forces/${force}/dashboard`, period: { kind: "PERIOD_KIND_ACADEMIC_YEAR", anchor_date: anchor },
  });
  console.log(d.workshops?.workshops_delivered ?? 0);
  process.exit(0);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
