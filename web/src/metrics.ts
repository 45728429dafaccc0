// How the interface names and shows each metric of the catalog
// (`crates/model/src/metric.rs`): label and unit from the message catalog, decimals.

import { t, tMaybe } from "./i18n";
import { number } from "./format";
import type { ReadingValue } from "./types";

/** Wire names of the metrics, in catalog order. */
export const METRICS = [
  "heart_rate",
  "resting_heart_rate",
  "rr_interval",
  "steps",
  "distance",
  "calories",
  "spo2",
  "blood_pressure_systolic",
  "blood_pressure_diastolic",
  "body_temperature",
  "respiratory_rate",
  "sleep_stage",
  "location",
  "weight",
] as const;

export type MetricName = (typeof METRICS)[number];

/** Scalar metrics with a meaningful chart. */
export const CHARTABLE: MetricName[] = METRICS.filter((m) => m !== "sleep_stage" && m !== "location");

/** Metrics counted per reading: a day's value is their sum. */
export const SUMMED = new Set<string>(["steps", "distance", "calories"]);

const DIGITS: Record<string, number> = {
  body_temperature: 1,
  weight: 1,
  distance: 0,
  calories: 0,
  rr_interval: 0,
};

export function metricLabel(metric: string): string {
  return tMaybe(`metric.${metric}`) ?? metric;
}

export function unitLabel(metric: string): string {
  return tMaybe(`unit.${metric}`) ?? "";
}

export function formatValue(metric: string, value: ReadingValue | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return number(value, DIGITS[metric] ?? 0);
  if (typeof value === "string") return tMaybe(`sleep.${value}`) ?? value;
  return `${number(value.lat, 5)}, ${number(value.lon, 5)}`;
}

export function sectionLabel(section: string): string {
  return section === "protected" ? t("section.protected") : t("section.open");
}
