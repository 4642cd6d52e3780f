#!/usr/bin/env python3
"""Prints the headline KPIs of a metrics dashboard (protobuf JSON on stdin), one line each."""
import json
import sys


def main() -> None:
    d = json.load(sys.stdin)
    w = d.get("workshops", {})
    t = d.get("training", {})
    c = d.get("campaigns", {})

    def n(section, key):
        return section.get(key, 0)

    print(f"  workshops delivered {n(w, 'workshopsDelivered')}, pupils {n(w, 'pupilsReached')}, "
          f"parents {n(w, 'parentsReached')}, staff {n(w, 'staffReached')}, schools covered "
          f"{n(w, 'schoolsCovered')} of {n(w, 'schoolsTotal')}, "
          f"safeguarding disclosures {n(w, 'safeguardingDisclosures')}")
    print(f"  officers trained {n(t, 'officersTrained')}, current certificates "
          f"{n(t, 'officersCurrent')} of {n(t, 'officersActive')} active officers, "
          f"enrolments {n(t, 'enrolmentsCreated')}")
    print(f"  campaign impressions {n(c, 'impressions')}, reach {n(c, 'reach')} of target "
          f"{n(c, 'reachTarget')}, engagement rate {100 * float(n(c, 'engagementRate')):.1f}%")
    print(f"  as of {d.get('asOf', '-')}")


if __name__ == "__main__":
    main()
