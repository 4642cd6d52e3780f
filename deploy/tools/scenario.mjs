// usage: node scenario.mjs PROTO_DIR WORKSHOPS_ADDR[,ADDR...] METRICS_ADDR[,ADDR...] FORCE
// A short story through the public gRPC APIs of the running containers: a venue, an accredited
// presenter and a topic in forces/FORCE, a workshop scheduled and delivered, then the force
// dashboard (metrics service) must show that delivery, carried by the outbox publisher. Every id
// carries a per-run suffix, so it also passes against volumes kept from an earlier run.
// With several addresses (replicas of one service on one store) the calls take turns: each step
// goes to the next replica, so an etag or a resource made on one is used on another; a
// request_id is replayed on another replica (one resource, the same answer); and EVERY metrics
// replica must show exactly the new totals.
import { randomUUID } from "node:crypto";
import { call, credentials, loadApi, sleep } from "./grpc_clients.mjs";

const [protoDir, workshopsAddr, metricsAddr, force] = process.argv.slice(2);
const api = loadApi(protoDir, ["outreach/workshops/v1/workshops.proto", "outreach/metrics/v1/metrics.proto"]);
const creds = credentials();
const workshopsReplicas = workshopsAddr.split(",").map(
  (a) => ({ address: a, client: new api.outreach.workshops.v1.WorkshopsService(a, creds) }));
const metricsReplicas = metricsAddr.split(",").map(
  (a) => ({ address: a, client: new api.outreach.metrics.v1.MetricsService(a, creds) }));
let turn = 0;
const next = () => workshopsReplicas[turn++ % workshopsReplicas.length];
// One workshops call on the next replica; `via` names it when there are several.
async function ws(method, request) {
  const r = next();
  const res = await call(r.client, method, request);
  res.via = workshopsReplicas.length > 1 ? ` (via ${r.address})` : "";
  return res;
}
const parent = `forces/${force}`;
const run = Date.now().toString(36);
const ts = (ms) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
const t0 = Date.now();
const say = (what) => console.log(`    [${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);

function londonToday() {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date()).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day) };
}
const dashboardRequest = {
  name: `${parent}/dashboard`,
  period: { kind: "PERIOD_KIND_ACADEMIC_YEAR", anchor_date: londonToday() },
};
const kpis = async (m = metricsReplicas[0]) =>
  (await call(m.client, "GetDashboard", dashboardRequest)).workshops ?? {};

try {
  const before = await kpis();
  say(`dashboard before: ${before.workshops_delivered} delivered, ${before.pupils_reached} pupils`);

  const createVenue = {
    parent, venue_id: `deploy-check-school-${run}`, request_id: randomUUID(),
    venue: { display_name: "Deploy Check Secondary School", kind: "VENUE_KIND_SECONDARY",
             area: "derby-city", pupil_roll: 900, postcode: "DE1 3AA" },
  };
  const venue = await ws("CreateVenue", createVenue);
  say(`venue ${venue.name}${venue.via}`);
  if (workshopsReplicas.length > 1) { // the request ledger is shared: a retry on another replica
    const again = await ws("CreateVenue", createVenue);
    if (again.name !== venue.name || again.etag !== venue.etag) {
      throw new Error(`CreateVenue replayed${again.via}: ${again.name} ${again.etag}, want ${venue.name} ${venue.etag}`);
    }
    say(`same request_id${again.via}: the same venue, not a second one`);
  }
  let presenter = await ws("CreatePresenter", {
    parent, presenter_id: `dmiu-coordinator-${run}`, request_id: randomUUID(),
    presenter: { display_name: "Digital Media Coordinator (staff no. DMIU-0412)",
                 team: "PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT" },
  });
  presenter = await ws("GrantAccreditation", {
    name: presenter.name, etag: presenter.etag, expire_time: ts(Date.now() + 365 * 86400e3),
    note: "College of Policing cyber-safety package",
  });
  say(`presenter ${presenter.name} ${presenter.accreditation.state}${presenter.via}`);
  const topic = await ws("CreateTopic", {
    parent, topic_id: `sexting-${run}`, request_id: randomUUID(),
    topic: { display_name: "Sexting: think before you send", category: "TOPIC_CATEGORY_SEXTING",
             min_year_group: 7, max_year_group: 11, suitable_for_pupils: true, version: "2026.1" },
  });
  say(`topic ${topic.name}${topic.via}`);

  const start = Date.now() + 2000;
  let workshop = await ws("ScheduleWorkshop", {
    parent, workshop_id: `year9-sexting-${run}`, request_id: randomUUID(),
    workshop: { title: "Year 9 sexting workshop", venue: venue.name, start_time: ts(start),
                end_time: ts(start + 3600e3), format: "WORKSHOP_FORMAT_LESSON",
                audiences: ["WORKSHOP_AUDIENCE_PUPILS"], year_groups: [9], topics: [topic.name],
                presenters: [presenter.name], partner_organisation: "University of Derby" },
  });
  say(`workshop ${workshop.name} ${workshop.state}${workshop.via}`);
  await sleep(Math.max(0, start - Date.now()) + 500); // delivery cannot precede start_time
  workshop = await ws("DeliverWorkshop", {
    name: workshop.name, etag: workshop.etag, request_id: randomUUID(),
    delivery: { actual_duration_minutes: 55,
                headcount: { pupils: [{ year_group: 9, pupils: 28 }], staff: 2 } },
  });
  if (workshop.state !== "WORKSHOP_STATE_DELIVERED") throw new Error(`state ${workshop.state}`);
  const delivered = Date.now();
  say(`delivered (28 pupils, 2 staff)${workshop.via}`);

  const want = { delivered: Number(before.workshops_delivered) + 1, pupils: Number(before.pupils_reached) + 28 };
  for (const m of metricsReplicas) {
    let now = before;
    while (Date.now() - delivered < 60000) {
      now = await kpis(m);
      if (Number(now.workshops_delivered) >= want.delivered && Number(now.pupils_reached) >= want.pupils) break;
      await sleep(250);
    }
    const where = metricsReplicas.length > 1 ? ` at ${m.address}` : "";
    if (Number(now.workshops_delivered) !== want.delivered || Number(now.pupils_reached) !== want.pupils) {
      throw new Error(`dashboard${where} shows ${now.workshops_delivered} delivered / ${now.pupils_reached} pupils, ` +
                      `want ${want.delivered} / ${want.pupils}`);
    }
    say(`dashboard${where} shows the delivery ${((Date.now() - delivered) / 1000).toFixed(1)}s after it was ` +
        `acknowledged: ${now.workshops_delivered} delivered, ${now.pupils_reached} pupils`);
  }
  console.log("    scenario: OK");
  process.exit(0);
} catch (err) {
  console.error(`    scenario: FAILED: ${err.message}`);
  process.exit(1);
}
