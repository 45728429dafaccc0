// Dataset requests: a researcher asks the node's patients for a study's data and sees
// how many accepted and declined; a patient sees the open requests on the sharing page
// and accepts one (granting the consent it asks for, signed like any grant) or declines.

import { get, post } from "../api";
import { h, replace } from "../dom";
import { Form, check, field, stopIfInvalid } from "../form";
import { dateTime, isoDay } from "../format";
import { t } from "../i18n";
import { METRICS, metricLabel, sectionLabel } from "../metrics";
import type { PageContext } from "../router";
import { actionButton, card, fill, heading, notice, table } from "../ui";

export interface DatasetRequest {
  id: string;
  institution_id: string;
  institution: string | null;
  title: string;
  purpose: string;
  metrics: string[];
  sections: string[];
  expires_at: number;
  created_at: number;
  accepted: number | null;
  declined: number | null;
  answer?: "accepted" | "declined" | null;
}

function what(r: DatasetRequest): string {
  const metrics = r.metrics.length ? ` (${r.metrics.map(metricLabel).join(", ")})` : "";
  return r.sections.map(sectionLabel).join(", ") + metrics;
}

/** The researcher's page: new request, and the requests made with their answers. */
export async function datasetRequests(ctx: PageContext): Promise<void> {
  const box = h("div");
  const load = () =>
    fill(box, async () => {
      const { requests } = await get<{ requests: DatasetRequest[] }>("/research/requests", ctx.signal);
      if (!requests.length) return h("p", null, t("research.none"));
      return table(
        [t("research.title"), t("research.what"), t("sharing.until"), t("research.accepted"), t("research.declined")],
        requests.map((r) => [h("strong", { "data-request": r.id }, r.title), what(r), dateTime(r.expires_at), String(r.accepted ?? 0), String(r.declined ?? 0)]),
        { "data-testid": "dataset-requests" },
      );
    });
  const inHalfYear = new Date();
  inHalfYear.setMonth(inHalfYear.getMonth() + 6);
  const done = h("div");
  const form = new Form(
    [
      field(t("research.title"), h("input", { name: "title", maxlength: 200 })),
      field(t("research.purpose"), h("textarea", { name: "purpose", rows: 3, maxlength: 2000 })),
      h("fieldset", null, h("legend", null, t("sharing.sections")), check(sectionLabel("open"), h("input", { name: "sections", value: "open" })), " ", check(sectionLabel("protected"), h("input", { name: "sections", value: "protected", checked: true })), h("p", { class: "field-error", "data-error-for": "sections", hidden: true })),
      h("fieldset", null, h("legend", null, t("sharing.metrics")), METRICS.map((m) => check(metricLabel(m), h("input", { name: "metrics", value: m }))), h("p", { class: "hint" }, t("research.metrics_hint")), h("p", { class: "field-error", "data-error-for": "metrics", hidden: true })),
      field(t("sharing.until"), h("input", { name: "expires_at", type: "date", value: isoDay(inHalfYear) })),
    ],
    t("research.ask"),
    async (f) => {
      f.require("title");
      f.require("purpose");
      const sections = f.checked("sections");
      if (!sections.length) f.error("sections", t("error.invalid_section"));
      const day = f.value("expires_at");
      const expires = day ? new Date(`${day}T23:59:59`).getTime() : NaN;
      if (!(expires > Date.now())) f.error("expires_at", t("error.invalid_expiry"));
      stopIfInvalid(f);
      await post("/research/requests", { title: f.value("title"), purpose: f.value("purpose"), sections, metrics: f.checked("metrics"), expires_at: expires });
      f.element.reset();
      replace(done, notice("ok", t("research.asked")));
      await load();
    },
  );
  ctx.root.append(
    heading(t("nav.requests")),
    card(t("research.new"), h("p", null, t("research.intro")), form.element, done),
    card(t("research.made"), box),
  );
  await load();
}

/** The patient's card of open requests (on the sharing page). */
export function requestsCard(base: string, signal: AbortSignal, onGranted: () => Promise<void>): HTMLElement {
  const box = h("div");
  const load = () =>
    fill(box, async () => {
      const { requests } = await get<{ requests: DatasetRequest[] }>("/research/requests", signal);
      if (!requests.length) return h("p", null, t("research.none_open"));
      return table(
        [t("research.title"), t("sharing.institution"), t("research.purpose"), t("research.what"), t("sharing.until"), ""],
        requests.map((r) => [
          h("strong", { "data-request": r.id }, r.title),
          r.institution ?? r.institution_id,
          r.purpose,
          what(r),
          dateTime(r.expires_at),
          r.answer
            ? h("span", { class: `badge ${r.answer === "accepted" ? "ok" : "muted"}`, "data-answer": r.answer }, t(`research.answer.${r.answer}`))
            : h(
                "span",
                null,
                actionButton(t("research.accept"), async () => {
                  const grant = await post<{ grant_id: string }>(`${base}/consents`, {
                    institution_id: r.institution_id,
                    access: ["read"],
                    sections: r.sections,
                    metrics: r.metrics,
                    purpose: r.title,
                    expires_at: r.expires_at,
                  });
                  await post(`${base}/research-requests/${encodeURIComponent(r.id)}`, { answer: "accepted", grant_id: grant.grant_id });
                  await Promise.all([load(), onGranted()]);
                }, "primary small"),
                " ",
                actionButton(t("research.decline"), async () => {
                  await post(`${base}/research-requests/${encodeURIComponent(r.id)}`, { answer: "declined" });
                  await load();
                }, "small"),
              ),
        ]),
        { "data-testid": "research-requests" },
      );
    });
  void load();
  return card(t("research.requests"), h("p", null, t("research.patient_intro")), box);
}
