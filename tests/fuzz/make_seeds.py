#!/usr/bin/env python3
"""Writes the protobuf seed corpora of tests/fuzz from the text-format messages below, with
protoc --encode (run from the repo root: python3 tests/fuzz/make_seeds.py). The handler targets'
inputs are framed calls (tests/fuzz/service_fuzz.h): [method index][length, 2 bytes LE][bytes],
the index being the method's place in the target's Call(&Impl::Method) table."""
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests/fuzz"


def encode(message_type, text):
    result = subprocess.run(
        ["protoc", f"-I{ROOT / 'protos'}", "-I/usr/include", f"--encode={message_type}",
         *[str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto")]],
        input=text.encode(), capture_output=True, check=False, cwd=ROOT / "protos")
    if result.returncode != 0:
        raise SystemExit(f"{message_type}: {result.stderr.decode()}")
    return result.stdout


def methods(target):
    source = (FUZZ / f"{target}.cc").read_text()
    return re.findall(r"Call\(&\w+::(\w+)\)", source)


def calls(target, package, sequence):
    table = methods(target)
    out = b""
    for method, text in sequence:
        body = encode(f"{package}.{method}Request", text)
        out += bytes([table.index(method)]) + len(body).to_bytes(2, "little") + body
    return out


P = 'parent: "forces/derbyshire"'
T = "{ seconds: 1737100800 }"  # 2025-01-17T08:00:00Z, after the targets' clock start
T2 = "{ seconds: 1737104400 }"
SEEDS = {
    "workshops_fuzz_handlers": ("outreach.workshops.v1", {
        "venue_then_list": [
            ("CreateVenue", P + ' venue_id: "school-a" venue { display_name: "A School" '
             'kind: VENUE_KIND_SECONDARY area: "north" pupil_roll: 900 }'),
            ("GetVenue", 'name: "forces/derbyshire/venues/school-a"'),
            ("ListVenues", P + ' filter: "area = \\"north\\"" order_by: "display_name desc"'),
        ],
        "schedule_and_deliver": [
            ("CreateVenue", P + ' venue_id: "v" venue { display_name: "V" '
             'kind: VENUE_KIND_PRIMARY area: "south" pupil_roll: 200 }'),
            ("CreatePresenter", P + ' presenter_id: "p" presenter { display_name: "PC P" '
             'team: PRESENTER_TEAM_SAFER_NEIGHBOURHOOD }'),
            ("GrantAccreditation", 'name: "forces/derbyshire/presenters/p"'),
            ("CreateTopic", P + ' topic_id: "sexting" topic { display_name: "Sexting" '
             'min_year_group: 7 max_year_group: 11 suitable_for_pupils: true version: "1" }'),
            ("ScheduleWorkshop", P + ' workshop_id: "w" workshop { title: "Staying safe" '
             f'venue: "forces/derbyshire/venues/v" start_time {T} end_time {T2} '
             'format: WORKSHOP_FORMAT_WORKSHOP audiences: WORKSHOP_AUDIENCE_PUPILS '
             'year_groups: 9 topics: "forces/derbyshire/topics/sexting" '
             'presenters: "forces/derbyshire/presenters/p" }'),
            ("DeliverWorkshop", 'name: "forces/derbyshire/workshops/w" delivery { '
             'headcount { pupils { year_group: 9 pupils: 30 } staff: 2 } }'),
            ("GetCoverage", 'name: "forces/derbyshire/coverage" academic_year: 2024'),
        ],
    }),
    "training_fuzz_handlers": ("outreach.training.v1", {
        "course_officer_enrol": [
            ("CreateCourse", P + ' course_id: "cyber" course { display_name: "Cyber" '
             'origin: COURSE_ORIGIN_COLLEGE_OF_POLICING validity_months: 24 '
             'target_roles: OFFICER_ROLE_FRONTLINE_INVESTIGATOR }'),
            ("CreateOfficer", P + ' officer_id: "o1" officer { staff_number: "D1234" '
             'role: OFFICER_ROLE_FRONTLINE_INVESTIGATOR division: "north" active: true }'),
            ("ListOfficers", P + ' filter: "division = \\"north\\"" page_size: 1'),
            ("GetComplianceReport", 'name: "forces/derbyshire/complianceReport"'),
        ],
    }),
    "campaigns_fuzz_handlers": ("outreach.campaigns.v1", {
        "campaign_activity": [
            ("CreateCampaign", P + ' campaign_id: "safe" campaign { title: "Be safe online" '
             'key_messages: "Use 2FA" audiences: CAMPAIGN_AUDIENCE_RESIDENTS areas: "north" '
             'start_date { year: 2025 month: 1 day: 20 } end_date { year: 2025 month: 3 day: 1 } '
             'reach_target: 10000 }'),
            ("CreateActivity", 'parent: "forces/derbyshire/campaigns/safe" activity_id: "fb" '
             'activity { title: "Post" channel: CHANNEL_FACEBOOK message_text: "Use 2FA" '
             f'link_uri: "https://example.org/" scheduled_time {T} }}'),
            ("ListActivities", 'parent: "forces/derbyshire/campaigns/safe"'),
            ("GetCampaignSummary", 'name: "forces/derbyshire/campaigns/safe/summary"'),
        ],
    }),
}

EVENT = ('events {{ event_id: "{id}" force: "derbyshire" source: "{source}" subject: '
         '"{subject}" occurred_time {{ seconds: 1727780400 }} {payload} }}')
INGEST = {
    "delivered": EVENT.format(
        id="e1", source="workshops", subject="forces/derbyshire/workshops/w1",
        payload='workshop_delivered { venue: "forces/derbyshire/venues/a" '
        'venue_kind: VENUE_KIND_SECONDARY area: "north" format: WORKSHOP_FORMAT_WORKSHOP '
        'audiences: WORKSHOP_AUDIENCE_PUPILS topics: "forces/derbyshire/topics/sexting" '
        'start_time { seconds: 1727776800 } delivered_time { seconds: 1727780400 } '
        'headcount { pupils { year_group: 9 pupils: 30 } staff: 2 } '
        'feedback { responses: 20 ratings_count: 10 ratings_sum: 45 } '
        'safeguarding_disclosures: 1 }'),
    "completed_twice": EVENT.format(
        id="e2", source="training", subject="forces/derbyshire/enrolments/n1",
        payload='enrolment_completed { officer: "forces/derbyshire/officers/o1" '
        'role: OFFICER_ROLE_FRONTLINE_INVESTIGATOR division: "north" '
        'course: "forces/derbyshire/courses/cyber" '
        'course_version: "forces/derbyshire/courses/cyber/versions/v2" '
        'completed_time { seconds: 1727780400 } valid_until { seconds: 1790852400 } }') * 2,
    "engagement": EVENT.format(
        id="e3", source="campaigns", subject="forces/derbyshire/campaigns/c/activities/a",
        payload='engagement_reported { campaign: "forces/derbyshire/campaigns/c" '
        'channel: CHANNEL_FACEBOOK areas: "north" day { year: 2024 month: 10 day: 1 } '
        'revision: 1 impressions: 1000 reach: 800 engagements: 50 clicks: 10 shares: 5 }'),
}


def main():
    for target, (package, seeds) in SEEDS.items():
        for name, sequence in seeds.items():
            (FUZZ / "corpus" / target / name).write_bytes(calls(target, package, sequence))
    for name, text in INGEST.items():
        body = encode("outreach.metrics.v1.IngestEventsRequest", 'parent: "forces/derbyshire" ' + text)
        (FUZZ / "corpus/metrics_fuzz_ingest" / name).write_bytes(body)


if __name__ == "__main__":
    main()
