#!/usr/bin/env python3
"""Compares libsmooth's civil-time conversions with Python's zoneinfo, in every zone.

Both read the system's compiled zone files (/usr/share/zoneinfo), and both follow the same
rule for wall-clock readings that a change of offset skips or repeats (PEP 495's fold=0 is
RFC 5545's reading, which libsmooth uses: a skipped time with the offset before the gap, a
repeated one its first time). zoneinfo reads the POSIX TZ rule at the end of each file for
the years after its transitions (to 9999), as libsmooth does with its own reader
(libsmooth/src/schedule/zone_rule.cpp). The driver (tests/zone_driver.cpp) converts:

  - random instants and wall-clock readings in random zones, years 2 to 9998;
  - around every change of offset in random zones and years from 1850 to 2200, minute by
    minute either side of it, readings in the gap or the overlap included.

Every answer must be zoneinfo's; the test fails on any difference, or if it found too few
changes of offset to have checked them.

usage: zone_differential.py DRIVER [SEED]
"""
import random
import subprocess
import sys
import zoneinfo
from datetime import date, datetime, timedelta, timezone

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RANDOM_CASES = 20000
ZONE_YEARS = 400
MIN_CHANGES = 150  # changes of offset around which to check, at the least


def zones():
    # Not zones: "localtime" is the machine's own zone, a link; "Factory" a placeholder that
    # libsmooth refuses as unknown. posix/ and right/ repeat the others (right/ with leap
    # seconds, which no wall clock here counts).
    return sorted(z for z in zoneinfo.available_timezones()
                  if not z.startswith(("posix/", "right/")) and z not in ("localtime", "Factory"))


def unix(t):
    return int((t - EPOCH).total_seconds())


def random_year(rng):
    r = rng.random()
    return rng.randint(1900, 2100) if r < 0.5 else rng.randint(2, 1899) if r < 0.75 \
        else rng.randint(2101, 9998)


def changes(zone, year):
    """The instants (on the hour) just after each change of offset in `zone` in `year`."""
    tz = zoneinfo.ZoneInfo(zone)
    t = datetime(year, 1, 1, tzinfo=UTC)
    before = t.astimezone(tz).utcoffset()
    found = []
    for hour in range(1, 366 * 24):
        u = t + timedelta(hours=hour)
        offset = u.astimezone(tz).utcoffset()
        if offset != before:
            found.append(u)
            before = offset
    return found


def main():
    driver = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    names = zones()
    cases = []  # ("L", zone, naive wall-clock reading) or ("U", zone, unix seconds)
    for _ in range(RANDOM_CASES):
        zone, year = rng.choice(names), random_year(rng)
        if rng.random() < 0.5:
            cases.append(("L", zone, datetime(year, 1, 1) + timedelta(
                days=rng.randint(0, 364), minutes=rng.randint(0, 1439))))
        else:
            cases.append(("U", zone, unix(datetime(year, 1, 1, tzinfo=UTC))
                          + rng.randint(0, 365 * 86400 - 1)))
    change_count = 0
    for _ in range(ZONE_YEARS):
        zone, year = rng.choice(names), rng.randint(1850, 2200)
        tz = zoneinfo.ZoneInfo(zone)
        for u in changes(zone, year):
            change_count += 1
            # The change is within the hour before u: every 7 minutes from 2.5 hours before it
            # to 2.5 hours after, as an instant and as the readings around it.
            for m in range(-150, 151, 7):
                cases.append(("U", zone, unix(u) + m * 60 + rng.randint(0, 59)))
                reading = (u + timedelta(minutes=m)).astimezone(tz).replace(tzinfo=None)
                for shift in (-60, -30, 0, 30, 60):
                    cases.append(("L", zone, (reading + timedelta(minutes=shift)).replace(
                        second=0, microsecond=0)))
    lines = "".join(
        "L %s %d %d %d %d\n" % (z, v.year, v.month, v.day, v.hour * 60 + v.minute) if k == "L"
        else "U %s %d\n" % (z, v) for k, z, v in cases)
    run = subprocess.run([driver], input=lines, capture_output=True, text=True, timeout=600)
    answers = run.stdout.splitlines()
    if run.returncode != 0 or len(answers) != len(cases):
        sys.exit("zone_differential: the driver ended with %d after %d of %d lines:\n%s"
                 % (run.returncode, len(answers), len(cases), run.stderr[-2000:]))
    differ = []
    for (kind, zone, value), answer in zip(cases, answers):
        tz = zoneinfo.ZoneInfo(zone)
        if kind == "L":
            want = unix(value.replace(tzinfo=tz, fold=0))
            want = "%d %d" % (want, want)  # LocalToInstant, and the converter
            asked = "%s %s" % (zone, value)
        else:
            local = (EPOCH + timedelta(seconds=value)).astimezone(tz)
            want = "%d %s %d %d" % (unix(local.replace(tzinfo=UTC)), local.date().isoformat(),
                                    local.hour * 60 + local.minute,
                                    (local.date() - date(1970, 1, 1)).days)
            asked = "%s at %d (%s)" % (zone, value, (EPOCH + timedelta(seconds=value)).isoformat())
        if answer != want:
            differ.append("%s %s\n  libsmooth: %s\n  zoneinfo:  %s" % (kind, asked, answer, want))
    print("zone_differential: %d conversions in %d zones, %d around %d changes of offset: "
          "%d differ" % (len(cases), len(names), len(cases) - RANDOM_CASES, change_count,
                         len(differ)))
    for d in differ[:20]:
        print(d)
    if differ:
        sys.exit(1)
    if change_count < MIN_CHANGES:
        sys.exit("zone_differential: only %d changes of offset found" % change_count)


if __name__ == "__main__":
    main()
