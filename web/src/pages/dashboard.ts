// The patient's dashboard: tiles with the latest heart rate, today's steps, SpO2, blood
// pressure and temperature; their charts over the last 24 hours; each device's last
// upload; open alerts. Everything updates from the live stream as readings are stored.

import { get, post } from "../api";
import { TimeChart } from "../chart";
import { cumulative, latest, readings, series } from "../data";
import { h, replace } from "../dom";
import { ago, number, startOfDay, time } from "../format";
import { t } from "../i18n";
import { subscribe, type LiveState } from "../live";
import { formatValue, metricLabel, unitLabel } from "../metrics";
import type { PageContext } from "../router";
import type { Alert, Device, LiveBatch } from "../types";
import { actionButton, card, failure, heading } from "../ui";

const DAY = 86_400_000;

interface Tile {
  element: HTMLElement;
  value: HTMLElement;
  when: HTMLElement;
  t: number;
}

function tile(id: string, label: string, unit: string): Tile {
  const value = h("span", { class: "value", "data-testid": `tile-${id}-value` }, "—");
  const when = h("span", { class: "when" }, t("dashboard.no_reading"));
  const element = h(
    "div",
    { class: "tile", "data-testid": `tile-${id}` },
    h("span", { class: "label" }, label),
    h("span", { class: "reading" }, value, " ", h("span", { class: "unit" }, unit)),
    when,
  );
  return { element, value, when, t: 0 };
}

function setTile(tile: Tile, text: string, at: number, label?: string): void {
  if (at < tile.t) return;
  tile.t = at;
  tile.value.textContent = text;
  tile.when.textContent = label ?? t("dashboard.at", { time: time(at) });
}

export async function dashboard(ctx: PageContext): Promise<void> {
  const patient = ctx.account!.patient_id!;
  const { signal } = ctx;
  const status = h("span", { class: "live-status", "data-state": "connecting", "data-testid": "live-status" }, t("live.connecting"));
  const tiles = {
    heart_rate: tile("heart_rate", metricLabel("heart_rate"), unitLabel("heart_rate")),
    steps: tile("steps", t("dashboard.steps_today"), unitLabel("steps")),
    spo2: tile("spo2", metricLabel("spo2"), unitLabel("spo2")),
    blood_pressure: tile("blood_pressure", t("metric.blood_pressure"), unitLabel("blood_pressure_systolic")),
    body_temperature: tile("body_temperature", metricLabel("body_temperature"), unitLabel("body_temperature")),
  };
  const chartsBox = h("div", { class: "charts" });
  const devicesBox = h("div", { "data-testid": "dashboard-devices" });
  const alertsBox = h("div", { "data-testid": "dashboard-alerts" });
  ctx.root.append(
    heading(t("nav.dashboard"), status),
    h("div", { class: "tiles" }, Object.values(tiles).map((x) => x.element)),
    chartsBox,
    h("div", { class: "columns" }, card(t("dashboard.devices"), devicesBox), card(t("dashboard.open_alerts"), alertsBox)),
  );

  const chartCard = (title: string, unit: string) => {
    const box = h("section", { class: "card chart-card" }, h("h2", null, title, " ", h("span", { class: "unit" }, unit)));
    chartsBox.append(box);
    return box;
  };
  const windowMs = DAY;
  const lastDay = (): [number, number] => [Date.now() - DAY, Date.now()];
  const hr = new TimeChart(chartCard(metricLabel("heart_rate"), unitLabel("heart_rate")), { metrics: ["heart_rate"], windowMs, range: lastDay }, signal);
  const steps = new TimeChart(chartCard(t("dashboard.steps_today"), unitLabel("steps")), { metrics: ["steps"], range: () => [dayStart, Date.now()] }, signal);
  const spo2 = new TimeChart(chartCard(metricLabel("spo2"), unitLabel("spo2")), { metrics: ["spo2"], windowMs, range: lastDay }, signal);
  const bp = new TimeChart(
    chartCard(t("metric.blood_pressure"), unitLabel("blood_pressure_systolic")),
    { metrics: ["blood_pressure_systolic", "blood_pressure_diastolic"], windowMs, range: lastDay },
    signal,
  );
  const temp = new TimeChart(
    chartCard(metricLabel("body_temperature"), unitLabel("body_temperature")),
    { metrics: ["body_temperature"], windowMs, digits: 1, range: lastDay },
    signal,
  );
  const charts: Record<string, TimeChart> = {
    heart_rate: hr,
    spo2,
    blood_pressure_systolic: bp,
    blood_pressure_diastolic: bp,
    body_temperature: temp,
  };

  let devices: Device[] = [];
  let alerts: Alert[] = [];
  // Today's step readings, to total them whatever order devices deliver them in.
  let stepReadings: Array<{ t: number; value: number }> = [];
  const loadedSteps = new Set<string>();
  let stepsTotal = 0;
  let stepsNewest = 0;
  let dayStart = startOfDay(Date.now());
  const bpLatest: { sys?: [number, number]; dia?: [number, number] } = {};

  const showBloodPressure = () => {
    if (!bpLatest.sys || !bpLatest.dia) return;
    setTile(tiles.blood_pressure, `${number(bpLatest.sys[1])}/${number(bpLatest.dia[1])}`, Math.max(bpLatest.sys[0], bpLatest.dia[0]));
  };
  const showSteps = () => setTile(tiles.steps, number(stepsTotal), Math.max(stepsNewest, tiles.steps.t), stepsNewest ? undefined : t("dashboard.since_midnight"));

  const renderDevices = () => {
    const active = devices.filter((d) => !d.revoked_at && d.kind === "device");
    replace(
      devicesBox,
      active.length
        ? h(
            "ul",
            { class: "plain" },
            active.map((d) =>
              h(
                "li",
                { "data-device": d.id },
                h("strong", null, d.name),
                " — ",
                h("span", { class: "last-upload", title: d.last_upload_at ? new Date(d.last_upload_at).toISOString() : "" }, d.last_upload_at ? t("dashboard.last_upload", { when: ago(d.last_upload_at) }) : t("dashboard.no_upload")),
              ),
            ),
          )
        : h("p", null, t("dashboard.no_devices"), " ", h("a", { href: "/app/devices" }, t("dashboard.pair_one"))),
    );
  };
  const renderAlerts = () => {
    const open = alerts.filter((a) => !a.acknowledged_at && !a.resolved_at);
    replace(
      alertsBox,
      open.length
        ? h(
            "ul",
            { class: "plain alerts" },
            open.map((a) =>
              h(
                "li",
                { "data-alert": a.id },
                h("span", { class: "badge warn" }, t(`alert.kind.${a.kind}`)),
                " ",
                a.metric ? `${metricLabel(a.metric)}: ${formatValue(a.metric, a.value)} ` : "",
                h("span", { class: "muted" }, ago(a.fired_at)),
                " ",
                actionButton(t("alert.acknowledge"), async () => {
                  await post(`/patients/${patient}/alerts/${a.id}/acknowledge`);
                  a.acknowledged_at = Date.now();
                  renderAlerts();
                }, "small"),
              ),
            ),
          )
        : h("p", null, t("dashboard.no_alerts")),
    );
  };

  // Subscribe first and hold what arrives until the first load is drawn, so that no
  // reading stored in between is missed.
  let pending: LiveBatch[] | null = [];
  const showStepReadings = () => {
    const points = cumulative(stepReadings);
    steps.set("steps", points);
    stepsTotal = points[points.length - 1]?.[1] ?? 0;
    stepsNewest = points.reduce((n, p) => Math.max(n, p[0]), 0);
  };
  /** `held`: the batch arrived while the first load ran, so the load may hold it too. */
  const apply = (batch: LiveBatch, held: boolean) => {
    const now = Date.now();
    if (startOfDay(now) !== dayStart) {
      dayStart = startOfDay(now);
      stepReadings = [];
    }
    let stepsChanged = false;
    const byMetric = new Map<string, Array<[number, number]>>();
    for (const r of batch.readings) {
      if (typeof r.value !== "number") continue;
      if (r.metric === "steps") {
        if (r.t >= dayStart && !(held && loadedSteps.has(`${batch.device} ${r.t}`))) {
          stepReadings.push({ t: r.t, value: r.value });
          stepsChanged = true;
        }
        continue;
      }
      if (!charts[r.metric]) continue;
      const list = byMetric.get(r.metric) ?? [];
      list.push([r.t, r.value]);
      byMetric.set(r.metric, list);
    }
    for (const [metric, points] of byMetric) {
      const chart = charts[metric]!;
      const known = chart.points(metric);
      const newest = known[known.length - 1]?.[0] ?? 0;
      const fresh = held ? points.filter((p) => p[0] > newest) : points;
      if (fresh.length) chart.append(metric, fresh);
      const last = points.reduce((a, b) => (b[0] >= a[0] ? b : a));
      if (metric === "blood_pressure_systolic") bpLatest.sys = last;
      else if (metric === "blood_pressure_diastolic") bpLatest.dia = last;
      else setTile(tiles[metric as "heart_rate" | "spo2" | "body_temperature"], formatValue(metric, last[1]), last[0]);
    }
    showBloodPressure();
    if (stepsChanged) {
      showStepReadings();
      showSteps();
    }
    const device = devices.find((d) => d.id === batch.device);
    if (device) {
      device.last_upload_at = now;
      renderDevices();
    }
  };
  const setStatus = (state: LiveState) => {
    status.dataset.state = state;
    status.textContent = t(`live.${state}`);
  };
  subscribe(
    patient,
    {
      readings: (batch) => (pending ? pending.push(batch) : apply(batch, false)),
      alert: (alert) => {
        alerts = [alert, ...alerts.filter((a) => a.id !== alert.id)];
        renderAlerts();
      },
      state: setStatus,
      lagged: () => setStatus("reconnecting"),
    },
    signal,
  );

  const now = Date.now();
  const from = now - DAY;
  const loadMetric = async (metric: "heart_rate" | "spo2" | "body_temperature" | "blood_pressure_systolic" | "blood_pressure_diastolic") => {
    const s = await series(patient, metric, from, now, 1440, signal);
    charts[metric]!.set(metric, s.points);
    const last = await latest(patient, s, signal);
    if (!last) return;
    if (metric === "blood_pressure_systolic") bpLatest.sys = last;
    else if (metric === "blood_pressure_diastolic") bpLatest.dia = last;
    else setTile(tiles[metric], formatValue(metric, last[1]), last[0]);
  };
  const loadSteps = async () => {
    const list = await readings(patient, "steps", dayStart, now + 60_000, signal);
    for (const r of list) {
      if (typeof r.value !== "number") continue;
      stepReadings.push({ t: r.t, value: r.value });
      loadedSteps.add(`${r.device} ${r.t}`);
    }
    showStepReadings();
    showSteps();
  };
  const results = await Promise.allSettled([
    loadMetric("heart_rate"),
    loadMetric("spo2"),
    loadMetric("body_temperature"),
    loadMetric("blood_pressure_systolic"),
    loadMetric("blood_pressure_diastolic"),
    loadSteps(),
    get<{ devices: Device[] }>(`/patients/${patient}/devices`, signal).then((a) => {
      devices = a.devices;
      renderDevices();
    }),
    get<{ alerts: Alert[] }>(`/patients/${patient}/alerts`, signal).then((a) => {
      alerts = a.alerts;
      renderAlerts();
    }),
  ]);
  if (signal.aborted) return;
  showBloodPressure();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) ctx.root.insertBefore(failure(failed.reason), ctx.root.children[1] ?? null);
  const held = pending;
  pending = null;
  for (const batch of held) apply(batch, true);
  // Relative times ("2 min ago") age; refresh them.
  const timer = setInterval(renderDevices, 30_000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
