// Charts of one patient over a day, a week or a month, with zoom: dragging across a chart
// loads the selected span at full detail for every chart; "Whole range" goes back. Used
// by the patient's history and by the institution portal (the server decides what each
// caller may read; a refused chart shows the refusal).

import { TimeChart } from "./chart";
import { readings, series } from "./data";
import { h, replace } from "./dom";
import { date, dateTime, startOfDay } from "./format";
import { t } from "./i18n";
import { metricLabel, unitLabel } from "./metrics";
import { failure } from "./ui";

export type Span = "day" | "week" | "month";
const DAY = 86_400_000;
const SPAN_DAYS: Record<Span, number> = { day: 1, week: 7, month: 30 };

interface ChartSpec {
  title: string;
  unit: string;
  metrics: string[];
  digits?: number;
  /** Counted metric: bars of totals per hour or day. */
  summed?: boolean;
}

const specs = (): ChartSpec[] => [
  { title: metricLabel("heart_rate"), unit: unitLabel("heart_rate"), metrics: ["heart_rate"] },
  { title: metricLabel("steps"), unit: unitLabel("steps"), metrics: ["steps"], summed: true },
  { title: metricLabel("spo2"), unit: unitLabel("spo2"), metrics: ["spo2"] },
  { title: t("metric.blood_pressure"), unit: unitLabel("blood_pressure_systolic"), metrics: ["blood_pressure_systolic", "blood_pressure_diastolic"] },
  { title: metricLabel("body_temperature"), unit: unitLabel("body_temperature"), metrics: ["body_temperature"], digits: 1 },
];

/** Totals of `list` per bucket of `width` ms (local hours or days). */
function totals(list: Array<{ t: number; value: unknown }>, width: number): Array<[number, number]> {
  const sums = new Map<number, number>();
  for (const r of list) {
    if (typeof r.value !== "number") continue;
    const key = width >= DAY ? startOfDay(r.t) : Math.floor(r.t / width) * width;
    sums.set(key, (sums.get(key) ?? 0) + r.value);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]);
}

export interface Panel {
  element: HTMLElement;
  /** The range shown (ms). */
  range(): [number, number];
  /** Called after each load with the range shown. */
  onRange?: (from: number, to: number) => void;
}

export function chartPanel(patient: string, signal: AbortSignal, initial: Span = "day"): Panel {
  let span: Span = initial;
  let end = startOfDay(Date.now()) + DAY; // the range ends at the next midnight
  let zoom: [number, number] | null = null;

  const label = h("span", { class: "range-label", "data-testid": "range-label" });
  const reset = h("button", { type: "button", hidden: true, "data-testid": "zoom-reset" }, t("history.whole_range"));
  const spanButtons = (["day", "week", "month"] as Span[]).map((s) => {
    const b = h("button", { type: "button", "data-span": s, "aria-pressed": String(s === span) }, t(`history.${s}`));
    b.addEventListener("click", () => {
      span = s;
      zoom = null;
      for (const x of spanButtons) x.setAttribute("aria-pressed", String(x === b));
      void load();
    });
    return b;
  });
  const prev = h("button", { type: "button", "aria-label": t("history.earlier") }, "‹");
  const next = h("button", { type: "button", "aria-label": t("history.later") }, "›");
  prev.addEventListener("click", () => {
    end -= SPAN_DAYS[span] * DAY;
    zoom = null;
    void load();
  });
  next.addEventListener("click", () => {
    end += SPAN_DAYS[span] * DAY;
    zoom = null;
    void load();
  });
  reset.addEventListener("click", () => {
    zoom = null;
    void load();
  });
  const grid = h("div", { class: "charts" });
  const element = h(
    "div",
    { class: "panel" },
    h("div", { class: "toolbar" }, h("span", { class: "segmented", role: "group" }, spanButtons), " ", prev, label, next, " ", reset),
    h("p", { class: "hint" }, t("history.zoom_hint")),
    grid,
  );

  const charts = specs().map((spec) => {
    const errors = h("div");
    const box = h("section", { class: "card chart-card" }, h("h2", null, spec.title, " ", h("span", { class: "unit" }, spec.unit)), errors);
    grid.append(box);
    const chart = new TimeChart(
      box,
      {
        metrics: spec.metrics,
        digits: spec.digits,
        bars: spec.summed,
        range: () => panel.range(),
        onZoom: (from, to) => {
          zoom = [from, to];
          void load();
        },
      },
      signal,
    );
    return { spec, chart, errors, box };
  });

  const panel: Panel = {
    element,
    range: () => zoom ?? [end - SPAN_DAYS[span] * DAY, end],
  };

  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    const [from, to] = panel.range();
    label.textContent = zoom ? `${dateTime(from)} – ${dateTime(to)}` : span === "day" ? date(from) : `${date(from)} – ${date(to - 1)}`;
    reset.hidden = !zoom;
    next.disabled = !zoom && end > Date.now();
    await Promise.all(
      charts.map(async ({ spec, chart, errors, box }) => {
        replace(errors);
        box.classList.remove("refused");
        try {
          if (spec.summed) {
            const list = await readings(patient, spec.metrics[0]!, from, to, signal);
            if (mine !== generation) return;
            chart.set(spec.metrics[0]!, totals(list, to - from > 2 * DAY ? DAY : 3_600_000));
          } else {
            const all = await Promise.all(spec.metrics.map((m) => series(patient, m, from, to, 800, signal)));
            if (mine !== generation) return;
            all.forEach((s, i) => chart.set(spec.metrics[i]!, s.points));
          }
        } catch (e) {
          if (signal.aborted || mine !== generation) return;
          for (const m of spec.metrics) chart.set(m, []);
          box.classList.add("refused");
          replace(errors, failure(e));
        }
      }),
    );
    if (mine === generation) panel.onRange?.(from, to);
  };
  void load();
  return panel;
}
