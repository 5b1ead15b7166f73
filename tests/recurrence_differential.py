#!/usr/bin/env python3
"""Compares libsmooth's expansion of recurrence rules with python-dateutil's.

libsmooth expands rules itself (libical only parses them; its own expansion strayed from
RFC 5545 §3.3.10 in many places and crashed on some rules). This test draws random rules
from fixed seeds, has the driver (tests/recurrence_driver.cpp) expand each from a random
first start on the UTC wall clock, and fails on any rule libsmooth accepts whose starts
differ from dateutil's, or when it accepts too few rules to have checked much.

A DATE UNTIL is the whole of that day in libsmooth, where dateutil reads it as its
midnight: dateutil is given the day's last second instead.

usage: recurrence_differential.py DRIVER [SEEDS] [RULES_PER_SEED]
"""
import random
import subprocess
import sys
from datetime import datetime, timedelta

try:
    from dateutil.rrule import rrulestr
except ImportError:
    sys.exit("recurrence_differential: python3-dateutil is missing (scripts/install-deps.sh)")

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def random_rule(rng):
    freq = rng.choice(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"])
    parts = ["FREQ=" + freq]
    if rng.random() < 0.35:
        parts.append("INTERVAL=%d" % rng.randint(2, 4))
    end = rng.random()
    if end < 0.75:
        parts.append("COUNT=%d" % rng.randint(1, 12))
    else:
        until = "UNTIL=%d%02d%02d" % (rng.randint(2026, 2030), rng.randint(1, 12),
                                      rng.randint(1, 28))
        if end < 0.9:  # a floating date-time, read on the wall clock
            until += "T%02d%02d00" % (rng.choice([0, 9, 12]), rng.choice([0, 30]))
        parts.append(until)
    if rng.random() < 0.5:
        days = rng.sample(DAYS, rng.randint(1, 3))
        # All numbered or none: dateutil wants a day to match an entry of each kind, where
        # RFC 5545 (and libsmooth) takes the entries as alternatives.
        if freq in ("MONTHLY", "YEARLY") and rng.random() < 0.4:
            days = ["%d%s" % (rng.choice([1, 2, 3, 4, -1, -2]), d) for d in days]
        parts.append("BYDAY=" + ",".join(days))
    if freq != "WEEKLY" and rng.random() < 0.3:
        parts.append("BYMONTHDAY=" + ",".join(
            str(rng.choice([1, 2, 15, 28, 29, 30, 31, -1, -2])) for _ in range(rng.randint(1, 2))))
    if rng.random() < 0.3:
        parts.append("BYMONTH=" + ",".join(str(rng.randint(1, 12))
                                           for _ in range(rng.randint(1, 3))))
    # Not 52 or 53: dateutil misnumbers the days of early January that belong to the last
    # week of the year before (2039-01-01 is in week 52 of 2038, which it takes for 53).
    # recurrence_test checks those against Python's date.isocalendar().
    if freq == "YEARLY" and rng.random() < 0.15:
        parts.append("BYWEEKNO=" + ",".join(
            str(rng.choice([1, 2, 10, 20, -1, -2])) for _ in range(rng.randint(1, 2))))
    if freq == "YEARLY" and rng.random() < 0.15:
        parts.append("BYYEARDAY=" + ",".join(
            str(rng.choice([1, 2, 60, 100, 200, 365, 366, -1, -2])) for _ in range(rng.randint(1, 2))))
    if rng.random() < 0.2:
        parts.append("BYHOUR=" + ",".join(str(rng.choice([7, 8, 10, 14, 20]))
                                          for _ in range(rng.randint(1, 3))))
    if rng.random() < 0.2:
        parts.append("BYMINUTE=" + ",".join(str(rng.choice([0, 5, 15, 30, 45]))
                                            for _ in range(rng.randint(1, 3))))
    if rng.random() < 0.15:
        parts.append("BYSETPOS=" + ",".join(str(rng.choice([1, 2, 3, 7, -1, -2, -5]))
                                            for _ in range(rng.randint(1, 2))))
    if rng.random() < 0.2:
        parts.append("WKST=" + rng.choice(DAYS))
    rng.shuffle(parts)  # the order of the parts means nothing
    return ";".join(parts)


def dateutil_until(rule):
    """The rule with a DATE UNTIL made that day's last second, as libsmooth reads it."""
    return ";".join(p + "T235959" if p.startswith("UNTIL=") and len(p) == len("UNTIL=20260101")
                    else p for p in rule.split(";"))


def first_week_whole(rule, start):
    """The start, moved back to the first day of its week (WKST) for a WEEKLY rule with
    BYSETPOS. RFC 5545 counts BYSETPOS within the whole week, as libsmooth does; dateutil
    counts the first week from the first start only."""
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    if parts["FREQ"] != "WEEKLY" or "BYSETPOS" not in parts:
        return start
    week_start = DAYS.index(parts.get("WKST", "MO"))
    return start - timedelta(days=(start.weekday() - week_start) % 7)


def main():
    driver = sys.argv[1]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    per_seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    cases = []
    for seed in range(1, seeds + 1):
        rng = random.Random(seed)
        for _ in range(per_seed):
            start = datetime(rng.randint(2026, 2029), rng.randint(1, 12), rng.randint(1, 28),
                             rng.choice([0, 9, 10, 14, 23]), rng.choice([0, 15, 30]))
            rule = random_rule(rng)
            cases.append((seed, rule, first_week_whole(rule, start)))
    lines = "".join("%s|%s\n" % (rule, start.strftime("%Y-%m-%d|%H:%M")) for _, rule, start in cases)
    run = subprocess.run([driver], input=lines, capture_output=True, text=True, timeout=600)
    answers = run.stdout.splitlines()
    if run.returncode != 0 or len(answers) != len(cases):
        sys.exit("recurrence_differential: the driver ended with %d after %d of %d rules:\n%s"
                 % (run.returncode, len(answers), len(cases), run.stderr[-2000:]))
    agreed = refused = 0
    differ = []
    for (seed, rule, start), answer in zip(cases, answers):
        if answer.startswith("ERR "):
            refused += 1
            continue
        if not answer.startswith("OK"):
            sys.exit("recurrence_differential: the driver did not read '%s': %s" % (rule, answer))
        got = answer.split()[1:]
        want = [t.strftime("%Y-%m-%dT%H:%M")
                for t in rrulestr("RRULE:" + dateutil_until(rule), dtstart=start)]
        if got == want:
            agreed += 1
        else:
            differ.append("seed %d: %s from %s\n  libsmooth: %s\n  dateutil:  %s"
                          % (seed, rule, start.strftime("%Y-%m-%d %a %H:%M"), got[:8], want[:8]))
    print("recurrence_differential: %d rules: %d agree with dateutil, %d differ, %d refused"
          % (len(cases), agreed, len(differ), refused))
    for d in differ[:20]:
        print(d)
    if differ:
        sys.exit(1)
    # Refusing everything would agree with nothing: most rules drawn are valid and must book.
    if agreed < 0.7 * len(cases):
        sys.exit("recurrence_differential: only %d of %d rules accepted" % (agreed, len(cases)))


if __name__ == "__main__":
    main()
