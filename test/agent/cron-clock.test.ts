/**
 * The daemon's ICU-free clock for node-cron (agent/cron-clock.ts) answers what Intl answers: the
 * date and time fields and the UTC offset node-cron reads, in zones with and without daylight
 * saving, over a year of dates and across the transitions; and node-cron's next run is the same
 * with either.
 */
import cron from "node-cron";
import t from "tap";
import { DATE_FIELDS, localFormatter, useLocalClock } from "../../agent/cron-clock.js";

const OFFSET: Intl.DateTimeFormatOptions = { timeZone: undefined, timeZoneName: "shortOffset" };

/** The fields as node-cron reads them (it drops literals, reads hour "24" as 0, "GMT+0" as UTC). */
function read(parts: { type: string; value: string }[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const p of parts) {
    if (p.type === "literal") continue;
    if (p.type === "timeZoneName") {
      const m = /^GMT([+-])(\d{1,2})(?::(\d{2}))?$/.exec(p.value);
      out.offset = m ? (m[1] === "+" ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
    } else if (p.type === "weekday") out.weekday = p.value;
    else out[p.type] = Number(p.value) % (p.type === "hour" ? 24 : Number.POSITIVE_INFINITY);
  }
  return out;
}

const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"];
const start = Date.UTC(2025, 0, 1);
// Every 7 h 13 min over a year: all hours, weekdays and both sides of every transition.
const dates = Array.from({ length: 1200 }, (_, i) => new Date(start + i * (7 * 3600 + 13 * 60) * 1000));
const expressions = ["*/30 * * * *", "0 2 * * *", "30 2 * * 0", "*/5 * * * * *", "0 9,17 * * 1-5"];

const savedTz = process.env.TZ;
t.teardown(() => {
  process.env.TZ = savedTz;
});

// node-cron's next run from each base date, with the real Intl, before the clock is replaced.
const expected = new Map<string, number[]>();
const nextRuns = (expr: string, bases: Date[]) => {
  const task = cron.createTask(expr, () => {});
  // getNextMatch is node-cron's own walk (DST included); a task exposes it only through its matcher.
  const matcher = (task as unknown as { timeMatcher: { getNextMatch(d: Date): Date } }).timeMatcher;
  const out = bases.map((d) => matcher.getNextMatch(d).getTime());
  task.destroy();
  return out;
};
const bases = dates.filter((_, i) => i % 10 === 0);
for (const tz of zones) {
  process.env.TZ = tz;
  for (const expr of expressions) expected.set(`${tz} ${expr}`, nextRuns(expr, bases));
}

t.test("the date fields and the offset are Intl's, in every zone", async (t) => {
  for (const tz of zones) {
    process.env.TZ = tz;
    const fields = new Intl.DateTimeFormat("en-US", DATE_FIELDS);
    const offset = new Intl.DateTimeFormat("en-US", OFFSET);
    const localFields = localFormatter("en-US", DATE_FIELDS)!;
    const localOffset = localFormatter("en-US", OFFSET)!;
    if (tz === "Asia/Kolkata") t.equal(read(localOffset(dates[0]!)).offset, 330, "TZ takes effect");
    const wrong = dates.filter(
      (d) =>
        JSON.stringify(read(fields.formatToParts(d))) !== JSON.stringify(read(localFields(d))) ||
        read(offset.formatToParts(d)).offset !== read(localOffset(d)).offset,
    );
    t.same(wrong, [], `${tz}: no date differs`);
  }
});

t.test("anything else goes to the real Intl", async (t) => {
  t.equal(localFormatter("de-DE", DATE_FIELDS), null, "another locale");
  t.equal(localFormatter("en-US", { ...DATE_FIELDS, timeZone: "UTC" }), null, "a time zone");
  t.equal(localFormatter("en-US", { year: "numeric" }), null, "other fields");
  t.equal(localFormatter("en-US", undefined), null, "no options");
});

t.test("node-cron's next runs are the same with the local clock", async (t) => {
  useLocalClock();
  const real = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric" });
  t.equal(real.format(new Date(start)), "2025", "a request it does not answer still works");
  for (const tz of zones) {
    process.env.TZ = tz;
    for (const expr of expressions) {
      t.same(nextRuns(expr, bases), expected.get(`${tz} ${expr}`), `${tz} "${expr}"`);
    }
  }
});
