// Numbers, times and identifiers in the user's language.

import { locale, t } from "./i18n";

export function dateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "medium" }).format(ms);
}

export function time(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { timeStyle: "medium" }).format(ms);
}

export function date(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(ms);
}

export function number(value: number, digits = 0): string {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

/** "3 min ago", "in 2 h" — relative to now. */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return t("common.never");
  const seconds = Math.round((ms - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto", style: "short" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

/** A long hex string or CID shortened to its ends; the whole value goes in a title. */
export function short(id: string, keep = 8): string {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`;
}

/** `YYYY-MM-DD` of a local date. */
export function isoDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Local midnight of the day holding `ms`. */
export function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The browser's offset from UTC in minutes (east positive), as the summary API takes it. */
export function utcOffsetMinutes(at = new Date()): number {
  return -at.getTimezoneOffset();
}
