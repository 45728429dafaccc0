// Time-series charts on uPlot (canvas, built for many points, about 50 kB). A chart holds
// one or more metrics; points can be replaced (a new range) or appended (a live reading).
// The container carries `data-points` and `data-last` so that tests and assistive
// technology can read what is drawn without looking at the canvas.

import uPlot from "uplot";
import { h } from "./dom";
import { locale, t } from "./i18n";
import { dateTime, number } from "./format";
import { metricLabel } from "./metrics";

const COLORS = ["#d1495b", "#2e86ab", "#3f9142", "#8e5ea2", "#e07a1f"];

export interface ChartOptions {
  metrics: string[];
  height?: number;
  bars?: boolean;
  /** Called with a range (ms) the user selected by dragging; the chart is zoomed by
   * loading that range. Without it, dragging does nothing. */
  onZoom?: (from: number, to: number) => void;
  /** For live charts: points older than this (ms) are dropped as new ones arrive. */
  windowMs?: number;
  /** Decimals in the legend. */
  digits?: number;
  /** The time range (ms) the x axis spans; by default the data's. */
  range?: () => [number, number];
}

type Point = [number, number];

export class TimeChart {
  readonly element: HTMLElement;
  private plot: uPlot | null = null;
  private readonly data = new Map<string, Point[]>();
  private readonly observer: ResizeObserver;
  private readonly empty: HTMLElement;
  private width = 0;

  constructor(
    parent: HTMLElement,
    private readonly options: ChartOptions,
    signal: AbortSignal,
  ) {
    this.empty = h("p", { class: "chart-empty" }, t("chart.no_data"));
    this.element = h("div", { class: "chart", "data-metric": options.metrics.join(" "), "data-points": "0" }, this.empty);
    parent.append(this.element);
    for (const m of options.metrics) this.data.set(m, []);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.element);
    signal.addEventListener("abort", () => this.destroy());
  }

  /** Replaces the points of `metric` (ms, value), sorted by time. */
  set(metric: string, points: Point[]): void {
    this.data.set(metric, [...points].sort((a, b) => a[0] - b[0]));
    this.draw();
  }

  /** Adds live points of `metric`; drops those older than the window. */
  append(metric: string, points: Point[]): void {
    const list = this.data.get(metric);
    if (!list) return;
    for (const p of points) list.push(p);
    list.sort((a, b) => a[0] - b[0]);
    if (this.options.windowMs) {
      const oldest = Date.now() - this.options.windowMs;
      while (list.length && list[0]![0] < oldest) list.shift();
    }
    this.draw();
  }

  points(metric: string): Point[] {
    return this.data.get(metric) ?? [];
  }

  private aligned(): uPlot.AlignedData {
    const times = new Set<number>();
    for (const list of this.data.values()) for (const [t] of list) times.add(t);
    const xs = [...times].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = this.options.metrics.map((m) => {
      const column: Array<number | null> = new Array(xs.length).fill(null);
      for (const [t, v] of this.data.get(m) ?? []) column[index.get(t)!] = v;
      return column;
    });
    return [xs.map((x) => x / 1000), ...ys] as uPlot.AlignedData;
  }

  private draw(): void {
    const first = this.data.get(this.options.metrics[0]!) ?? [];
    const total = [...this.data.values()].reduce((n, l) => n + l.length, 0);
    this.element.dataset.points = String(total);
    const last = first[first.length - 1];
    if (last) this.element.dataset.last = String(last[1]);
    else delete this.element.dataset.last;
    this.empty.hidden = total > 0;
    if (total === 0) {
      this.plot?.destroy();
      this.plot = null;
      return;
    }
    const data = this.aligned();
    if (this.plot) this.plot.setData(data);
    else this.create(data);
  }

  private create(data: uPlot.AlignedData): void {
    const width = Math.max(200, this.element.clientWidth || 300);
    this.width = width;
    const digits = this.options.digits ?? 0;
    const bars = Boolean(this.options.bars);
    const axisTime = (u: uPlot, seconds: number) => {
      const span = ((u.scales.x!.max ?? 0) - (u.scales.x!.min ?? 0)) / 86400;
      const opts: Intl.DateTimeFormatOptions =
        span > 2 ? { month: "numeric", day: "numeric" } : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
      return new Intl.DateTimeFormat(locale(), opts).format(seconds * 1000);
    };
    const range = this.options.range;
    const opts: uPlot.Options = {
      width,
      height: this.options.height ?? 200,
      scales: {
        x: {
          time: true,
          range: range
            ? () => {
                const [from, to] = range();
                return [from / 1000, to / 1000];
              }
            : undefined,
        },
        // Some room around the values; a single value gets a band of its own; bars
        // start at zero.
        y: {
          range: (_u, min, max) => {
            if (min === null || max === null) return [0, 1];
            if (bars) return [0, max > 0 ? max * 1.1 : 1];
            const pad = max > min ? (max - min) * 0.1 : Math.max(1, Math.abs(max) * 0.02);
            return [min - pad, max + pad];
          },
        },
      },
      legend: { show: true, live: true },
      cursor: {
        drag: { x: Boolean(this.options.onZoom), y: false, setScale: false },
      },
      series: [
        { value: (_u, v) => (v === null ? "—" : dateTime(v * 1000)) },
        ...this.options.metrics.map((m, i) => ({
          label: metricLabel(m),
          stroke: COLORS[i % COLORS.length],
          fill: this.options.bars ? `${COLORS[i % COLORS.length]}99` : undefined,
          width: this.options.bars ? 1 : 2,
          spanGaps: true,
          points: { show: this.options.bars ? false : (d: uPlot) => d.data[0].length < 60 },
          paths: this.options.bars ? uPlot.paths.bars!({ size: [0.7, 60] }) : undefined,
          value: (_u: uPlot, v: number | null) => (v === null ? "—" : number(v, digits)),
        })),
      ],
      axes: [
        { values: (u, splits) => splits.map((s) => (s === null ? "" : axisTime(u, s))) },
        { size: 48, values: (_u, splits) => splits.map((s) => (s === null ? "" : number(s, digits))) },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (!this.options.onZoom || u.select.width < 4) return;
            const from = u.posToVal(u.select.left, "x") * 1000;
            const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.options.onZoom(Math.round(from), Math.round(to));
          },
        ],
      },
    };
    this.plot = new uPlot(opts, data, this.element);
  }

  private resize(): void {
    const width = this.element.clientWidth;
    if (!this.plot || width === 0 || Math.abs(width - this.width) < 2) return;
    this.width = width;
    this.plot.setSize({ width, height: this.options.height ?? 200 });
  }

  private destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
