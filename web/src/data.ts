// Reads of a patient's data shared by the patient's pages and the institution portal.

import { get, query } from "./api";
import type { Reading, ReadingsPage, Series } from "./types";

const base = (patient: string) => `/patients/${encodeURIComponent(patient)}`;

/** A chart series of at most `points` points (the server downsamples). */
export function series(patient: string, metric: string, from: number, to: number, points = 1000, signal?: AbortSignal): Promise<Series> {
  return get<Series>(`${base(patient)}/series${query({ metric, from, to, points })}`, signal);
}

/** Every reading of `metric` in [from, to], following pages up to `maxPages`. */
export async function readings(
  patient: string,
  metric: string,
  from: number,
  to: number,
  signal?: AbortSignal,
  maxPages = 20,
): Promise<Reading[]> {
  const out: Reading[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const answer = await get<ReadingsPage>(
      `${base(patient)}/readings${query({ metric, from, to, limit: 10000, after })}`,
      signal,
    );
    out.push(...answer.readings);
    if (!answer.next) break;
    after = answer.next;
  }
  return out;
}

/** The newest reading behind a series: exact even when the series shows minute means. */
export async function latest(patient: string, s: Series, signal?: AbortSignal): Promise<[number, number] | null> {
  const last = s.points[s.points.length - 1];
  if (!last) return null;
  if (s.source === "readings") return last;
  // A rollup point sits in the middle of its minute: read that minute's readings.
  const found = await readings(patient, s.metric, Math.floor(last[0] - 60_000), Date.now() + 60_000, signal, 1);
  const newest = found[found.length - 1];
  return newest && typeof newest.value === "number" ? [newest.t, newest.value] : last;
}

/** Running totals of counted readings (steps) from `from`: one point per reading. */
export function cumulative(list: Array<{ t: number; value: unknown }>, start = 0): Array<[number, number]> {
  let total = start;
  return [...list]
    .sort((a, b) => a.t - b.t)
    .filter((r) => typeof r.value === "number")
    .map((r) => {
      total += r.value as number;
      return [r.t, total] as [number, number];
    });
}
