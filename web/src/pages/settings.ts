// The patient's settings: profile (for heart-rate zones), alert rules, which section each
// metric goes to and the region used in aggregates, language, exports, password.

import { API, del, get, post, put, query } from "../api";
import { h, replace } from "../dom";
import { Form, check, field, stopIfInvalid } from "../form";
import { isoDay, number } from "../format";
import { LOCALES, locale, setLocale, t, type Locale } from "../i18n";
import { CHARTABLE, METRICS, metricLabel, sectionLabel, unitLabel } from "../metrics";
import type { PageContext } from "../router";
import { navigate } from "../router";
import { begin, current, deleteAccount } from "../session";
import type { AlertRule, Profile } from "../types";
import { actionButton, card, fill, heading, notice, table } from "../ui";

function profileCard(base: string, signal: AbortSignal): HTMLElement {
  const box = h("div");
  void fill(box, async () => {
    const p = await get<Profile>(`${base}/profile`, signal);
    const done = h("div");
    const sex = h(
      "select",
      { name: "sex" },
      h("option", { value: "" }, t("settings.not_given")),
      (["female", "male", "other"] as const).map((s) => h("option", { value: s, selected: p.sex === s }, t(`settings.sex.${s}`))),
    );
    const form = new Form(
      [
        field(t("settings.birth_year"), h("input", { name: "birth_year", type: "number", min: 1900, max: new Date().getFullYear(), step: 1, value: p.birth_year ?? "" })),
        field(t("settings.sex"), sex),
        field(t("settings.resting_hr"), h("input", { name: "resting_hr", type: "number", min: 25, max: 150, step: 1, value: p.resting_hr ?? "" }), t("settings.resting_hr_hint")),
      ],
      t("common.save"),
      async (f) => {
        const year = f.value("birth_year");
        const rest = f.value("resting_hr");
        if (year && !(Number.isInteger(Number(year)) && Number(year) >= 1900 && Number(year) <= new Date().getFullYear())) f.error("birth_year", t("error.invalid_birth_year"));
        if (rest && !(Number(rest) >= 25 && Number(rest) <= 150)) f.error("resting_hr", t("error.invalid_resting_hr"));
        stopIfInvalid(f);
        await put(`${base}/profile`, { birth_year: year ? Number(year) : null, sex: sex.value || null, resting_hr: rest ? Number(rest) : null });
        replace(done, notice("ok", t("common.saved")));
      },
    );
    return [form.element, done];
  });
  return card(t("settings.profile"), h("p", null, t("settings.profile_intro")), box);
}

function rulesCard(base: string, signal: AbortSignal): HTMLElement {
  const list = h("div");
  const load = () =>
    fill(list, async () => {
      const { rules } = await get<{ rules: AlertRule[] }>(`${base}/alert-rules`, signal);
      if (!rules.length) return h("p", null, t("settings.no_rules"));
      return table(
        [t("settings.rule"), t("settings.webhook"), ""],
        rules.map((r) => [
          describeRule(r),
          r.webhook ?? "—",
          actionButton(t("common.delete"), async () => {
            await del(`${base}/alert-rules/${r.id}`);
            await load();
          }, "small danger"),
        ]),
        { "data-testid": "alert-rules" },
      );
    });
  const kind = h("select", { name: "kind" }, (["above", "below", "offline", "anomaly"] as const).map((k) => h("option", { value: k }, t(`settings.kind.${k}`))));
  const metric = h("select", { name: "metric" }, CHARTABLE.map((m) => h("option", { value: m }, metricLabel(m))));
  const threshold = field(t("settings.threshold"), h("input", { name: "threshold", type: "number", step: "any" }));
  const minutes = field(t("settings.minutes"), h("input", { name: "minutes", type: "number", min: 1, max: 10080, step: 1 }));
  const metricField = field(t("analysis.metric"), metric);
  const sync = () => {
    threshold.hidden = !["above", "below"].includes(kind.value);
    minutes.hidden = kind.value !== "offline";
    metricField.hidden = kind.value === "offline";
  };
  kind.addEventListener("change", sync);
  sync();
  const form = new Form(
    [field(t("settings.kind"), kind), metricField, threshold, minutes, field(t("settings.webhook"), h("input", { name: "webhook", type: "url", placeholder: "https://…" }), t("settings.webhook_hint"))],
    t("settings.add_rule"),
    async (f) => {
      const body: Record<string, unknown> = { kind: kind.value };
      if (kind.value !== "offline") body.metric = metric.value;
      if (kind.value === "above" || kind.value === "below") {
        const v = f.value("threshold");
        if (!v || !Number.isFinite(Number(v))) f.error("threshold", t("form.number_required"));
        body.threshold = Number(v);
      }
      if (kind.value === "offline") {
        const m = Number(f.value("minutes"));
        if (!Number.isInteger(m) || m < 1 || m > 10080) f.error("minutes", t("error.invalid_minutes"));
        body.minutes = m;
      }
      const hook = f.value("webhook");
      if (hook && !/^https?:\/\//.test(hook)) f.error("webhook", t("error.invalid_webhook"));
      if (hook) body.webhook = hook;
      stopIfInvalid(f);
      await post(`${base}/alert-rules`, body);
      f.element.reset();
      sync();
      await load();
    },
  );
  void load();
  return card(t("settings.alerts"), list, h("h3", null, t("settings.add_rule")), form.element);
}

function describeRule(r: AlertRule): string {
  const m = r.metric ? metricLabel(r.metric) : "";
  switch (r.kind) {
    case "above":
    case "below":
      return t(`settings.rule_${r.kind}`, { metric: m, value: number(r.threshold ?? 0, 1), unit: r.metric ? unitLabel(r.metric) : "" });
    case "offline":
      return t("settings.rule_offline", { minutes: r.minutes ?? 0 });
    default:
      return t("settings.rule_anomaly", { metric: m });
  }
}

function sectionsCard(base: string, signal: AbortSignal): HTMLElement {
  const box = h("div");
  void fill(box, async () => {
    const { sections } = await get<{ sections: Record<string, "open" | "protected"> }>(`${base}/settings`, signal);
    const done = h("div");
    const selects = METRICS.map((m) =>
      h("select", { name: `section_${m}`, "data-metric": m }, (["open", "protected"] as const).map((s) => h("option", { value: s, selected: sections[m] === s }, sectionLabel(s)))),
    );
    const form = new Form(
      [
        h("div", { class: "field-grid wide" }, METRICS.map((m, i) => field(metricLabel(m), selects[i]!))),
        field(t("settings.region"), h("input", { name: "region", maxlength: 64 }), t("settings.region_hint")),
      ],
      t("common.save"),
      async (f) => {
        const region = f.value("region");
        const changed: Record<string, string> = {};
        for (const s of selects) if (s.value !== sections[s.dataset.metric!]) changed[s.dataset.metric!] = s.value;
        const answer = await put<{ sections: Record<string, "open" | "protected"> }>(`${base}/settings`, { sections: changed, region: region || undefined });
        Object.assign(sections, answer.sections);
        replace(done, notice("ok", t("common.saved")));
      },
    );
    return [h("p", null, t("settings.sections_intro")), form.element, done];
  });
  return card(t("settings.sections"), box);
}

interface Sealing {
  sealed: boolean;
  policy?: string | null;
  chosen_policy?: string | null;
  epochs?: number;
  rewrap?: { done: number; total: number } | null;
}

function sealingCard(base: string, signal: AbortSignal): HTMLElement {
  const box = h("div");
  const load = () =>
    fill(box, async () => {
      const s = await get<Sealing>(`${base}/sealing`, signal);
      const status = h(
        "dl",
        { class: "facts", "data-testid": "sealing-status" },
        h("dt", null, t("settings.current_policy")),
        h("dd", null, h("code", { "data-testid": "policy-in-force" }, s.policy ?? t("settings.policy_none"))),
      );
      const progress = s.rewrap ? h("p", { class: "muted", "data-testid": "rewrap" }, t("settings.rewrap", { done: s.rewrap.done, total: s.rewrap.total })) : null;
      const done = h("div");
      const form = new Form(
        [field(t("settings.policy"), h("input", { name: "policy", value: s.chosen_policy ?? "", maxlength: 4000, spellcheck: false, autocomplete: "off" }), t("settings.policy_hint"))],
        t("settings.save_policy"),
        async (f) => {
          const text = f.value("policy");
          await put(`${base}/access-policy`, { policy: text || null });
          await load();
          replace(done, notice("ok", t("common.saved")));
        },
      );
      return [notice(s.sealed ? "ok" : "warn", t(s.sealed ? "settings.sealing_on" : "settings.sealing_off")), status, progress, form.element, done];
    });
  void load();
  return card(t("settings.sealing"), h("p", null, t("settings.sealing_intro")), box);
}

function languageCard(): HTMLElement {
  const select = h("select", { name: "language" }, (Object.keys(LOCALES) as Locale[]).map((l) => h("option", { value: l, selected: l === locale() }, t(`lang.${l}`))));
  select.addEventListener("change", () => setLocale(select.value as Locale));
  return card(t("settings.language"), field(t("settings.language"), select));
}

function exportCard(patient: string): HTMLElement {
  const monthAgo = new Date();
  monthAgo.setDate(monthAgo.getDate() - 30);
  const link = h("div");
  const form = new Form(
    [
      field(t("settings.format"), h("select", { name: "format" }, [["csv", "CSV"], ["xlsx", "XLSX (Excel)"], ["fhir", "FHIR R4 (JSON)"]].map(([v, l]) => h("option", { value: v! }, l!)))),
      field(t("settings.from"), h("input", { name: "from", type: "date", value: isoDay(monthAgo) })),
      field(t("settings.to"), h("input", { name: "to", type: "date", value: isoDay(new Date()) })),
      h("fieldset", null, h("legend", null, t("settings.export_metrics")), METRICS.map((m) => check(metricLabel(m), h("input", { name: "metrics", value: m }))), h("p", { class: "hint" }, t("settings.export_metrics_hint"))),
    ],
    t("settings.prepare_export"),
    async (f) => {
      const from = f.value("from");
      const to = f.value("to");
      if (!from) f.error("from", t("form.required"));
      if (!to) f.error("to", t("form.required"));
      if (from && to && from > to) f.error("from", t("error.from_after_to"));
      stopIfInvalid(f);
      // The day's bounds in local time, as instants.
      const start = new Date(`${from}T00:00:00`).getTime();
      const end = new Date(`${to}T23:59:59.999`).getTime();
      const format = f.value("format");
      const metrics = f.checked("metrics").join(",");
      const href = `${API}/patients/${encodeURIComponent(patient)}/export${query({ format, from: start, to: end, metrics })}`;
      const ext = format === "fhir" ? "json" : format;
      replace(link, notice("ok", h("a", { href, download: `vitalis-${from}-${to}.${ext}`, "data-testid": "export-link" }, t("settings.download", { format: format.toUpperCase() }))));
    },
  );
  return card(t("settings.export"), h("p", null, t("settings.export_intro")), form.element, link);
}

function deleteCard(): HTMLElement {
  const form = new Form(
    [field(t("settings.delete_password"), h("input", { name: "password", type: "password", autocomplete: "current-password" }))],
    t("settings.delete_account"),
    async (f) => {
      f.require("password");
      stopIfInvalid(f);
      if (!window.confirm(t("settings.delete_confirm"))) return;
      await deleteAccount(f.input("password").value);
      navigate("/app/signin?deleted=1", true);
    },
  );
  form.element.querySelector("button[type=submit]")?.classList.add("danger");
  return card(t("settings.delete_account"), h("p", null, t("settings.delete_intro")), form.element);
}

function passwordCard(): HTMLElement {
  const done = h("div");
  const form = new Form(
    [
      field(t("settings.current_password"), h("input", { name: "current_password", type: "password", autocomplete: "current-password" })),
      field(t("auth.new_password"), h("input", { name: "new_password", type: "password", autocomplete: "new-password" }), t("auth.password_hint", { n: 12 })),
    ],
    t("settings.change_password"),
    async (f) => {
      f.require("current_password");
      if ([...f.input("new_password").value].length < 12) f.error("new_password", t("error.weak_password"));
      stopIfInvalid(f);
      const answer = await post<{ csrf_token: string }>("/auth/password", {
        current_password: f.input("current_password").value,
        new_password: f.input("new_password").value,
      });
      const account = current();
      if (account) begin({ account, csrf_token: answer.csrf_token });
      f.element.reset();
      replace(done, notice("ok", t("settings.password_changed")));
    },
  );
  return card(t("settings.change_password"), form.element, done);
}

export function settings(ctx: PageContext): void {
  const patient = ctx.account!.patient_id!;
  const base = `/patients/${patient}`;
  ctx.root.append(
    heading(t("nav.settings")),
    h("div", { class: "columns" }, profileCard(base, ctx.signal), languageCard()),
    rulesCard(base, ctx.signal),
    sectionsCard(base, ctx.signal),
    sealingCard(base, ctx.signal),
    exportCard(patient),
    passwordCard(),
    deleteCard(),
    h("p", { class: "muted" }, t("settings.signed_in_as", { email: ctx.account!.email })),
  );
}
