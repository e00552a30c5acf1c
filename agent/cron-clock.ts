/**
 * node-cron without ICU. node-cron reads the wall clock through `Intl.DateTimeFormat("en-US", …)`
 * (every tick and every next-run computation: `formatToParts` for the date and time fields, and a
 * `timeZoneName: "shortOffset"` format for the UTC offset), and no option avoids it. Constructing
 * an `Intl.DateTimeFormat` pages in ICU's locale and calendar data: about 8 MiB of a process that
 * otherwise only waits (docs/agent.md, "Idle memory").
 *
 * The daemon never passes a time zone, so every format node-cron asks for is of the local time,
 * which `Date`'s own local getters give. `useLocalClock()` replaces `Intl.DateTimeFormat` in the
 * daemon process (and only there) with a function that answers exactly those two formats from
 * `Date` and hands any other request (another locale, a time zone, other fields) to the real one.
 * test/agent/cron-clock.test.ts compares both answers over a range of dates.
 */

type Options = Intl.DateTimeFormatOptions;

/** The fields node-cron asks `Intl.DateTimeFormat` for on every tick (the other: the UTC offset). */
export const DATE_FIELDS: Options = {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  weekday: "short",
  hour12: false,
};
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const pad = (n: number) => String(n).padStart(2, "0");

function sameOptions(options: Options, expected: Options): boolean {
  const keys = Object.keys(options).filter((k) => options[k as keyof Options] !== undefined);
  return (
    keys.length === Object.keys(expected).length &&
    keys.every((k) => options[k as keyof Options] === expected[k as keyof Options])
  );
}

type Part = { type: string; value: string };

/** The parts node-cron reads, for `options`, or null when they are not the two it uses. */
export function localFormatter(
  locale: unknown,
  options: Options | undefined,
): ((date: Date) => Part[]) | null {
  if (locale !== "en-US" || !options || options.timeZone !== undefined) return null;
  if (sameOptions(options, DATE_FIELDS)) {
    return (d) => [
      { type: "weekday", value: WEEKDAYS[d.getDay()]! },
      { type: "literal", value: ", " },
      { type: "month", value: pad(d.getMonth() + 1) },
      { type: "literal", value: "/" },
      { type: "day", value: pad(d.getDate()) },
      { type: "literal", value: "/" },
      { type: "year", value: String(d.getFullYear()) },
      { type: "literal", value: ", " },
      { type: "hour", value: pad(d.getHours()) },
      { type: "literal", value: ":" },
      { type: "minute", value: pad(d.getMinutes()) },
      { type: "literal", value: ":" },
      { type: "second", value: pad(d.getSeconds()) },
    ];
  }
  if (sameOptions(options, { timeZoneName: "shortOffset" })) {
    return (d) => {
      const east = -d.getTimezoneOffset();
      const abs = Math.abs(east);
      const hm = `${Math.floor(abs / 60)}${abs % 60 ? `:${pad(abs % 60)}` : ""}`;
      return [
        { type: "month", value: String(d.getMonth() + 1) },
        { type: "literal", value: "/" },
        { type: "day", value: String(d.getDate()) },
        { type: "literal", value: "/" },
        { type: "year", value: String(d.getFullYear()) },
        { type: "literal", value: ", " },
        { type: "timeZoneName", value: east === 0 ? "GMT" : `GMT${east > 0 ? "+" : "-"}${hm}` },
      ];
    };
  }
  return null;
}

let installed = false;

/** Makes node-cron's `Intl.DateTimeFormat` calls in this process read `Date` instead of ICU. */
export function useLocalClock(): void {
  if (installed) return;
  installed = true;
  const Real = Intl.DateTimeFormat;
  function DateTimeFormat(locale?: string | string[], options?: Options): Intl.DateTimeFormat {
    const parts = localFormatter(locale, options);
    if (!parts) return new Real(locale, options);
    return {
      formatToParts: (date?: Date | number) => parts(new Date(date ?? Date.now())),
      format: (date?: Date | number) =>
        parts(new Date(date ?? Date.now()))
          .map((p) => p.value)
          .join(""),
      resolvedOptions: () => ({ locale: "en-US", ...options }) as Intl.ResolvedDateTimeFormatOptions,
    } as Intl.DateTimeFormat;
  }
  DateTimeFormat.supportedLocalesOf = Real.supportedLocalesOf;
  Object.defineProperty(Intl, "DateTimeFormat", {
    value: DateTimeFormat,
    writable: true,
    configurable: true,
  });
}
