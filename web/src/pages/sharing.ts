// Sharing: grant an approved institution access to sections or metrics for a purpose and
// a time (each grant signed with the patient's key and checked by the consent contract),
// revoke it, and read the access log: who read what, when, why, verified on chain.

import { get, post, query } from "../api";
import { h, replace } from "../dom";
import { Form, check, field, stopIfInvalid } from "../form";
import { dateTime, isoDay } from "../format";
import { t, tMaybe } from "../i18n";
import { METRICS, metricLabel, sectionLabel } from "../metrics";
import type { PageContext } from "../router";
import type { AccessEntry, Consent, Institution } from "../types";
import { actionButton, card, code, failure, fill, heading, loading, notice, table } from "../ui";
import { requestsCard } from "./research";

function accessLogTable(entries: AccessEntry[], names: Map<string, string>, withPatient: boolean): HTMLElement {
  if (!entries.length) return h("p", null, t("log.empty"));
  const headers = [t("log.when"), t("log.who"), ...(withPatient ? [t("log.patient")] : []), t("log.action"), t("log.detail"), t("log.purpose"), t("log.on_chain")];
  return table(
    headers,
    entries.map((e) => [
      dateTime(e.at),
      h(
        "span",
        { "data-institution": e.institution_id ?? "" },
        e.institution_id ? (names.get(e.institution_id) ?? e.institution_id) : t(`role.${e.role}`),
        h("br"),
        h("span", { class: "muted" }, t(`role.${e.role}`)),
      ),
      ...(withPatient ? [code(e.patient_id, 6)] : []),
      tMaybe(`log.action.${e.action}`) ?? e.action,
      e.detail,
      e.purpose ?? "—",
      e.verified === true
        ? h("span", { class: "badge ok", title: e.batch?.tx ?? "" }, t("log.verified", { block: e.batch?.block ?? "—" }))
        : e.verified === false
          ? h("span", { class: "badge error" }, t("log.not_verified"))
          : h("span", { class: "badge muted" }, t("log.pending")),
    ]),
    { "data-testid": "access-log" },
  );
}

const LOG_PAGE = 100;

/** The access log, newest first, a page at a time; `path` is the API route. Entries of
 * `ownAccount` (a patient reading their own data) can be hidden. */
export function accessLog(path: string, names: Map<string, string>, signal: AbortSignal, options: { withPatient?: boolean; ownAccount?: string } = {}): HTMLElement {
  const entries: AccessEntry[] = [];
  const list = h("div");
  const more = h("button", { type: "button", hidden: true }, t("log.earlier"));
  const othersOnly = h("input", { type: "checkbox", checked: true, "data-testid": "log-others-only" });
  const show = () => {
    const shown = options.ownAccount && othersOnly.checked ? entries.filter((e) => e.account_id !== options.ownAccount) : entries;
    replace(list, accessLogTable(shown, names, Boolean(options.withPatient)));
  };
  const load = async () => {
    const before = entries[entries.length - 1]?.id;
    const page = (await get<{ entries: AccessEntry[] }>(`${path}${query({ limit: LOG_PAGE, before })}`, signal)).entries;
    entries.push(...page);
    more.hidden = page.length < LOG_PAGE;
    show();
  };
  othersOnly.addEventListener("change", show);
  more.addEventListener("click", () => {
    more.disabled = true;
    load()
      .catch((e: unknown) => list.append(failure(e)))
      .finally(() => {
        more.disabled = false;
      });
  });
  const element = h(
    "div",
    null,
    options.ownAccount ? h("label", { class: "check" }, othersOnly, " ", t("log.others_only")) : null,
    list,
    more,
  );
  list.replaceChildren(loading());
  load().catch((e: unknown) => replace(list, failure(e)));
  return element;
}

export async function sharing(ctx: PageContext): Promise<void> {
  const patient = ctx.account!.patient_id!;
  const base = `/patients/${patient}`;
  const institutions = (await get<{ institutions: Institution[] }>("/institutions", ctx.signal)).institutions;
  const names = new Map(institutions.map((i) => [i.id, i.name]));
  const grantsBox = h("div");
  const logBox = h("div");

  const loadGrants = () =>
    fill(grantsBox, async () => {
      const { consents } = await get<{ consents: Consent[] }>(`${base}/consents`, ctx.signal);
      if (!consents.length) return h("p", null, t("sharing.no_grants"));
      return table(
        [t("sharing.institution"), t("sharing.access"), t("sharing.what"), t("sharing.purpose"), t("sharing.until"), t("sharing.status"), ""],
        consents.map((c) => [
          h("span", { "data-grant": c.grant_id, "data-institution": c.institution_id }, names.get(c.institution_id) ?? c.institution_id),
          c.access.map((a) => t(`sharing.access.${a}`)).join(", "),
          [c.sections.map(sectionLabel).join(", "), c.metrics.length ? ` (${c.metrics.map(metricLabel).join(", ")})` : ""].join(""),
          c.purpose,
          dateTime(c.expires_at),
          h("span", { class: `badge ${c.status === "active" ? "ok" : "muted"}`, "data-status": c.status }, t(`sharing.status.${c.status}`), h("br"), h("span", { class: "muted" }, t("records.block", { n: c.block }))),
          c.status === "active"
            ? actionButton(t("sharing.revoke"), async () => {
                if (!confirm(t("sharing.revoke_confirm", { name: names.get(c.institution_id) ?? c.institution_id }))) return;
                await post(`${base}/consents/${c.grant_id}/revoke`);
                await loadGrants();
                loadLog();
              }, "danger small")
            : "",
        ]),
        { "data-testid": "grants" },
      );
    });
  const loadLog = () => replace(logBox, accessLog(`${base}/access-log`, names, ctx.signal, { ownAccount: ctx.account!.id }));

  const institution = h(
    "select",
    { name: "institution_id", required: true },
    h("option", { value: "" }, t("sharing.choose")),
    institutions.map((i) => h("option", { value: i.id, "data-role": i.role }, `${i.name} (${t(`role.${i.role}`)})`)),
  );
  const write = h("input", { name: "access", value: "write" });
  const protectedBox = h("input", { name: "sections", value: "protected" });
  const roleOf = () => institutions.find((i) => i.id === institution.value)?.role;
  institution.addEventListener("change", () => {
    const role = roleOf();
    write.disabled = role !== "hospital";
    if (write.disabled) write.checked = false;
    protectedBox.disabled = role === "enterprise";
    if (protectedBox.disabled) protectedBox.checked = false;
  });
  const inYear = new Date();
  inYear.setFullYear(inYear.getFullYear() + 1);
  const metricsSelect = h(
    "select",
    { name: "metrics", multiple: true, size: 5 },
    METRICS.map((m) => h("option", { value: m }, metricLabel(m))),
  );
  const form = new Form(
    [
      field(t("sharing.institution"), institution),
      h("fieldset", null, h("legend", null, t("sharing.access")), check(t("sharing.access.read"), h("input", { name: "access", value: "read", checked: true })), " ", check(t("sharing.access.write"), write), h("p", { class: "field-error", "data-error-for": "access", hidden: true })),
      h("fieldset", null, h("legend", null, t("sharing.sections")), check(sectionLabel("open"), h("input", { name: "sections", value: "open", checked: true })), " ", check(sectionLabel("protected"), protectedBox), h("p", { class: "field-error", "data-error-for": "sections", hidden: true })),
      field(t("sharing.metrics"), metricsSelect, t("sharing.metrics_hint")),
      field(t("sharing.purpose"), h("input", { name: "purpose", required: true, maxlength: 500, placeholder: t("sharing.purpose_example") })),
      field(t("sharing.until"), h("input", { name: "expires_at", type: "date", required: true, value: isoDay(inYear) })),
    ],
    t("sharing.grant"),
    async (f) => {
      if (!institution.value) f.error("institution_id", t("form.required"));
      const access = f.checked("access");
      const sections = f.checked("sections");
      if (!access.length) f.error("access", t("error.invalid_access"));
      if (!sections.length) f.error("sections", t("error.invalid_section"));
      f.require("purpose");
      const day = f.value("expires_at");
      const expires = day ? new Date(`${day}T23:59:59`).getTime() : NaN;
      if (!day) f.error("expires_at", t("form.required"));
      else if (!(expires > Date.now() + 60_000)) f.error("expires_at", t("error.invalid_expiry"));
      stopIfInvalid(f);
      await post<Consent>(`${base}/consents`, {
        institution_id: institution.value,
        access,
        sections,
        metrics: [...metricsSelect.selectedOptions].map((o) => o.value),
        purpose: f.value("purpose"),
        expires_at: expires,
      });
      f.element.reset();
      replace(done, notice("ok", t("sharing.granted")));
      await loadGrants();
    },
  );
  const done = h("div");

  ctx.root.append(
    heading(t("nav.sharing")),
    card(t("sharing.grants"), grantsBox),
    requestsCard(base, ctx.signal, loadGrants),
    card(
      t("sharing.new_grant"),
      institutions.length ? [h("p", null, t("sharing.grant_intro")), form.element, done] : h("p", null, t("sharing.no_institutions")),
    ),
    card(t("sharing.access_log"), h("p", null, t("sharing.log_intro")), logBox),
  );
  loadLog();
  await loadGrants();
}
