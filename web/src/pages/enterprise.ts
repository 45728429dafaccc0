// Enterprise and government: aggregates of the open section over consenting patients,
// per day or per region. Nothing of the protected section is ever offered here.

import { get, query } from "../api";
import { TimeChart } from "../chart";
import { h, replace } from "../dom";
import { Form, field, stopIfInvalid } from "../form";
import { date, isoDay, number } from "../format";
import { t } from "../i18n";
import { metricLabel, unitLabel } from "../metrics";
import type { PageContext } from "../router";
import type { AggregateAnswer } from "../types";
import { card, heading, table } from "../ui";

const OPEN_METRICS = ["steps", "distance", "calories"];

export function aggregates(ctx: PageContext): void {
  const result = h("div", { "data-testid": "aggregate-result" });
  const chartBox = h("div");
  const weekAgo = new Date();
  weekAgo.setDate(weekAgo.getDate() - 6);
  const metric = h("select", { name: "metric" }, OPEN_METRICS.map((m) => h("option", { value: m }, metricLabel(m))));
  const group = h("select", { name: "group" }, h("option", { value: "day" }, t("aggregates.by_day")), h("option", { value: "region" }, t("aggregates.by_region")));
  let chart: TimeChart | null = null;
  const form = new Form(
    [
      field(t("analysis.metric"), metric),
      field(t("settings.from"), h("input", { name: "from", type: "date", value: isoDay(weekAgo) })),
      field(t("settings.to"), h("input", { name: "to", type: "date", value: isoDay(new Date()) })),
      field(t("aggregates.group"), group),
    ],
    t("aggregates.run"),
    async (f) => {
      const from = f.value("from");
      const to = f.value("to");
      if (!from) f.error("from", t("form.required"));
      if (!to) f.error("to", t("form.required"));
      if (from && to && from > to) f.error("from", t("error.from_after_to"));
      stopIfInvalid(f);
      const answer = await get<AggregateAnswer>(
        `/query/aggregate${query({ metric: metric.value, from: new Date(`${from}T00:00:00`).getTime(), to: new Date(`${to}T23:59:59.999`).getTime(), group: group.value })}`,
        ctx.signal,
      );
      const byDay = group.value === "day";
      replace(
        result,
        h("p", null, t("aggregates.consenting", { n: answer.consenting_patients })),
        answer.groups.length
          ? table(
              [byDay ? t("aggregates.day") : t("aggregates.region"), t("aggregates.patients"), t("aggregates.readings"), t("aggregates.total"), t("aggregates.mean_per_patient")],
              answer.groups.map((g) => [
                byDay ? date(g.day_start ?? 0) : (g.region ?? "—"),
                number(g.patients),
                number(g.readings),
                `${number(g.total)} ${unitLabel(answer.metric)}`,
                `${number(g.mean_per_patient)} ${unitLabel(answer.metric)}`,
              ]),
            )
          : h("p", null, t("aggregates.none")),
      );
      if (byDay) {
        if (!chart) chart = new TimeChart(chartBox, { metrics: [answer.metric], bars: true }, ctx.signal);
        chart.set(answer.metric, answer.groups.map((g) => [g.day_start ?? 0, g.mean_per_patient]));
      }
      chartBox.hidden = !byDay;
    },
  );
  ctx.root.append(heading(t("nav.aggregates")), card(null, h("p", null, t("aggregates.intro")), form.element), card(t("aggregates.result"), result, chartBox));
}
