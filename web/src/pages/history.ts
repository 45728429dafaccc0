// History and analysis: day, week and month charts with zoom, and the analyses of a day
// (statistics with coverage, steps, resting heart rate, HRV, sleep, SpO2, blood pressure,
// temperature against the personal baseline, anomalies, trends) with the plain-language
// summary and the facts it rests on.

import { get, query } from "../api";
import { h } from "../dom";
import { isoDay, number, utcOffsetMinutes } from "../format";
import { t, tMaybe } from "../i18n";
import { metricLabel, unitLabel } from "../metrics";
import { chartPanel } from "../panel";
import type { PageContext } from "../router";
import { card, fill, heading, table } from "../ui";

interface Stats {
  summary: { count: number; min: number; max: number; mean: number; p50: number };
  coverage: number;
}

interface DaySummary {
  day: string;
  metrics: Record<string, Stats>;
  steps: { total: number; class: string | null } | null;
  resting_heart_rate: { bpm: number } | null;
  hrv: { rmssd_ms: number | null; sdnn_ms: number | null } | null;
  sleep: { asleep_ms: number; efficiency: number } | null;
  spo2: { events: number; odi: number | null } | null;
  blood_pressure: { systolic: number; diastolic: number; category: string } | null;
  temperature: { value: number; baseline: number | null; deviation: number | null } | null;
  anomalies: Array<{ metric: string; anomaly: { value: number; score: number; direction: "above" | "below" } }>;
  trends: Record<string, { week: { direction: string; slope_per_day: number } | null; month: { direction: string; slope_per_day: number } | null }>;
  text: string;
  facts: Array<{ key: string; shown: string; method: string }>;
  left_out: string[];
}

const digitsOf = (metric: string) => (metric === "body_temperature" || metric === "weight" ? 1 : 0);

export function summaryView(s: DaySummary): HTMLElement {
  const key: Array<[string, string]> = [];
  if (s.steps) key.push([t("analysis.steps"), `${number(s.steps.total)}${s.steps.class ? ` · ${tMaybe(`analysis.class.${s.steps.class.replace(/ /g, "_")}`) ?? s.steps.class}` : ""}`]);
  if (s.resting_heart_rate) key.push([t("analysis.resting_hr"), `${number(s.resting_heart_rate.bpm)} ${unitLabel("heart_rate")}`]);
  if (s.hrv?.rmssd_ms != null) key.push([t("analysis.hrv"), `${number(s.hrv.rmssd_ms)} ms`]);
  if (s.sleep) key.push([t("analysis.sleep"), t("analysis.sleep_value", { hours: number(s.sleep.asleep_ms / 3_600_000, 1), efficiency: number(s.sleep.efficiency * 100) })]);
  if (s.spo2) key.push([t("analysis.spo2_events"), `${number(s.spo2.events)}${s.spo2.odi != null ? ` · ODI ${number(s.spo2.odi, 1)}` : ""}`]);
  if (s.blood_pressure)
    key.push([
      t("metric.blood_pressure"),
      `${number(s.blood_pressure.systolic)}/${number(s.blood_pressure.diastolic)} ${unitLabel("blood_pressure_systolic")} · ${tMaybe(`analysis.bp.${s.blood_pressure.category.replace(/ /g, "_")}`) ?? s.blood_pressure.category}`,
    ]);
  if (s.temperature?.deviation != null) key.push([t("analysis.temperature_deviation"), `${s.temperature.deviation >= 0 ? "+" : ""}${number(s.temperature.deviation, 2)} °C`]);

  const stats = Object.entries(s.metrics);
  const trends = Object.entries(s.trends);
  return h(
    "div",
    { "data-testid": "summary" },
    h("p", { class: "narrative", "data-testid": "narrative" }, s.text),
    key.length ? h("dl", { class: "facts" }, key.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])) : null,
    s.anomalies.length
      ? h(
          "ul",
          { class: "plain" },
          s.anomalies.map((a) =>
            h("li", null, h("span", { class: "badge warn" }, t("analysis.anomaly")), " ", t(`analysis.unusual_${a.anomaly.direction}`, { metric: metricLabel(a.metric), value: number(a.anomaly.value, digitsOf(a.metric)) })),
          ),
        )
      : null,
    stats.length
      ? table(
          [t("analysis.metric"), t("analysis.mean"), t("analysis.min"), t("analysis.max"), t("analysis.count"), t("analysis.coverage")],
          stats.map(([m, d]) => [
            `${metricLabel(m)} (${unitLabel(m)})`,
            number(d.summary.mean, digitsOf(m)),
            number(d.summary.min, digitsOf(m)),
            number(d.summary.max, digitsOf(m)),
            number(d.summary.count),
            `${number(d.coverage * 100)} %`,
          ]),
        )
      : null,
    trends.length
      ? h(
          "div",
          null,
          h("h3", null, t("analysis.trends")),
          table(
            [t("analysis.metric"), t("analysis.week"), t("analysis.month")],
            trends.map(([m, tr]) => [
              metricLabel(m),
              tr.week ? (tMaybe(`analysis.trend.${tr.week.direction}`) ?? tr.week.direction) : "—",
              tr.month ? (tMaybe(`analysis.trend.${tr.month.direction}`) ?? tr.month.direction) : "—",
            ]),
          ),
        )
      : null,
    s.facts.length
      ? h(
          "details",
          null,
          h("summary", null, t("analysis.facts")),
          h("ul", { class: "plain" }, s.facts.map((f) => h("li", null, h("strong", null, f.shown), " — ", h("span", { class: "muted" }, f.method)))),
        )
      : null,
    s.left_out.length ? h("p", { class: "muted" }, t("analysis.left_out", { metrics: s.left_out.map(metricLabel).join(", ") })) : null,
  );
}

/** The summary of `day` for `patient`, loaded into `slot`. */
export function loadSummary(slot: HTMLElement, patient: string, day: string, signal: AbortSignal): Promise<void> {
  return fill(slot, async () => {
    const s = await get<DaySummary>(
      `/patients/${encodeURIComponent(patient)}/summary${query({ day, utc_offset_minutes: utcOffsetMinutes(new Date(`${day}T12:00:00`)) })}`,
      signal,
    );
    return summaryView(s);
  });
}

export async function history(ctx: PageContext): Promise<void> {
  const patient = ctx.account!.patient_id!;
  const panel = chartPanel(patient, ctx.signal, "day");
  const summaryBox = h("div");
  const day = h("input", { type: "date", value: isoDay(new Date()), max: isoDay(new Date()), "aria-label": t("analysis.day") });
  day.addEventListener("change", () => {
    if (day.value) void loadSummary(summaryBox, patient, day.value, ctx.signal);
  });
  ctx.root.append(
    heading(t("nav.history")),
    panel.element,
    card(t("analysis.title"), h("div", { class: "toolbar" }, h("label", null, t("analysis.day"), " ", day)), summaryBox),
  );
  await loadSummary(summaryBox, patient, day.value, ctx.signal);
}
