// The institution portal: the patients who granted this institution access, and one
// patient's data with the same charts the patient sees (as far as the consent reaches;
// the server refuses the rest and the refusal is shown), the hospital's clinical notes
// and the recording of a check-up.

import { get, post } from "../api";
import { h, replace } from "../dom";
import { Form, field, stopIfInvalid } from "../form";
import { dateTime, isoDay, number } from "../format";
import { t } from "../i18n";
import { metricLabel, sectionLabel } from "../metrics";
import { chartPanel } from "../panel";
import type { PageContext } from "../router";
import type { ClinicalNote, Consent } from "../types";
import { card, code, failure, fill, heading, notice, table } from "../ui";
import { loadSummary } from "./history";

interface MyPatient {
  patient_id: string;
  grants: Consent[];
}

function grantText(c: Consent): string {
  const what = c.sections.map(sectionLabel).join(", ") + (c.metrics.length ? ` (${c.metrics.map(metricLabel).join(", ")})` : "");
  return `${c.access.map((a) => t(`sharing.access.${a}`)).join(", ")} · ${what} · ${t(`sharing.status.${c.status}`)}`;
}

export async function patientList(ctx: PageContext): Promise<void> {
  const box = h("div");
  ctx.root.append(heading(t("nav.patients")), card(null, h("p", null, t("portal.intro")), box));
  await fill(box, async () => {
    const { patients } = await get<{ patients: MyPatient[] }>("/institution/patients", ctx.signal);
    if (!patients.length) return h("p", null, t("portal.no_patients"));
    return table(
      [t("portal.patient"), t("portal.grants"), t("sharing.until")],
      patients.map((p) => [
        // Researchers receive de-identified data only, never a patient's own page.
        ctx.account!.role === "researcher"
          ? h("code", { "data-patient": p.patient_id }, p.patient_id)
          : h("a", { href: `/app/patients/${encodeURIComponent(p.patient_id)}`, "data-patient": p.patient_id }, p.patient_id),
        h("ul", { class: "plain" }, p.grants.map((g) => h("li", { "data-status": g.status }, grantText(g), " — ", g.purpose))),
        p.grants.map((g) => dateTime(g.expires_at)).join(", "),
      ]),
      { "data-testid": "my-patients" },
    );
  });
}

const READING_FIELDS: Array<[string, string, number, number]> = [
  ["blood_pressure_systolic", "mm[Hg]", 40, 300],
  ["blood_pressure_diastolic", "mm[Hg]", 20, 200],
  ["heart_rate", "/min", 20, 250],
  ["body_temperature", "Cel", 25, 45],
  ["weight", "kg", 1, 500],
];

function checkupForm(patient: string, onDone: () => void): HTMLElement {
  const resultsBox = h("div", { class: "results" });
  const addResult = () => {
    const n = resultsBox.children.length;
    resultsBox.append(
      h(
        "div",
        { class: "result-row" },
        field(t("portal.loinc"), h("input", { name: `loinc_${n}`, placeholder: "2345-7", class: "short" })),
        field(t("portal.display"), h("input", { name: `display_${n}`, placeholder: t("portal.display_example") })),
        field(t("portal.value"), h("input", { name: `value_${n}`, type: "number", step: "any", class: "short" })),
        field(t("portal.unit"), h("input", { name: `unit_${n}`, placeholder: "mg/dL", class: "short" })),
      ),
    );
  };
  addResult();
  const more = h("button", { type: "button", class: "small" }, t("portal.add_result"));
  more.addEventListener("click", addResult);
  const done = h("div");
  const form = new Form(
    [
      h("fieldset", null, h("legend", null, t("portal.measurements")), h("div", { class: "field-grid" }, READING_FIELDS.map(([m, , min, max]) => field(metricLabel(m), h("input", { name: m, type: "number", step: "any", min, max }))))),
      h("fieldset", null, h("legend", null, t("portal.lab_results")), resultsBox, more),
      field(t("portal.note"), h("textarea", { name: "note", rows: 3 })),
    ],
    t("portal.record_checkup"),
    async (f) => {
      const now = Date.now();
      const readings: Array<{ metric: string; t: number; value: number; unit: string }> = [];
      for (const [m, unit, min, max] of READING_FIELDS) {
        const v = f.value(m);
        if (!v) continue;
        const n = Number(v);
        if (!Number.isFinite(n) || n < min || n > max) f.error(m, t("error.out_of_range_between", { min, max }));
        else readings.push({ metric: m, t: now, value: n, unit });
      }
      const results: Array<{ loinc: string; display: string; value: number; unit: string }> = [];
      for (let i = 0; i < resultsBox.children.length; i++) {
        const loinc = f.value(`loinc_${i}`);
        const display = f.value(`display_${i}`);
        const value = f.value(`value_${i}`);
        const unit = f.value(`unit_${i}`);
        if (!loinc && !display && !value && !unit) continue;
        if (!/^\d{1,7}-\d$/.test(loinc)) f.error(`loinc_${i}`, t("error.invalid_loinc"));
        if (!display) f.error(`display_${i}`, t("form.required"));
        if (!value || !Number.isFinite(Number(value))) f.error(`value_${i}`, t("form.number_required"));
        if (!unit) f.error(`unit_${i}`, t("form.required"));
        results.push({ loinc, display, value: Number(value), unit });
      }
      const note = f.value("note");
      if (!readings.length && !results.length && !note) f.error(undefined, t("portal.nothing_to_record"));
      stopIfInvalid(f);
      await post(`/patients/${encodeURIComponent(patient)}/clinical`, { t: now, readings, results, note });
      f.element.reset();
      replace(done, notice("ok", t("portal.checkup_recorded")));
      onDone();
    },
  );
  return h("div", null, form.element, done);
}

function notesView(notes: ClinicalNote[]): HTMLElement {
  if (!notes.length) return h("p", null, t("portal.no_notes"));
  return h(
    "ul",
    { class: "plain notes", "data-testid": "clinical-notes" },
    notes.map((n) =>
      h(
        "li",
        null,
        h("strong", null, dateTime(n.note.t)),
        " · ",
        t("records.seq"),
        " ",
        number(n.seq),
        n.note.results.length
          ? h("ul", null, n.note.results.map((r) => h("li", null, `${r.display} (${r.loinc}): ${number(r.value, 2)} ${r.unit}`)))
          : null,
        n.note.note ? h("p", null, n.note.note) : null,
      ),
    ),
  );
}

export async function patientDetail(ctx: PageContext): Promise<void> {
  const patient = ctx.params.id!;
  const role = ctx.account!.role;
  const grantsBox = h("div");
  const notesBox = h("div");
  const summaryBox = h("div");
  const checkupBox = h("div");
  const loadNotes = () =>
    fill(notesBox, async () => notesView((await get<{ notes: ClinicalNote[] }>(`/patients/${encodeURIComponent(patient)}/clinical`, ctx.signal)).notes));
  const panel = chartPanel(patient, ctx.signal, "day");
  replace(
    ctx.root,
    heading(t("portal.patient_title"), code(patient, 12)),
    h("p", null, h("a", { href: "/app/patients" }, t("portal.back"))),
    grantsBox,
    panel.element,
    card(t("analysis.title"), summaryBox),
    role === "hospital" ? card(t("portal.notes"), notesBox) : null,
    role === "hospital" ? card(t("portal.checkup"), checkupBox) : null,
  );
  const grants = await get<{ patients: MyPatient[] }>("/institution/patients", ctx.signal)
    .then((a) => a.patients.find((p) => p.patient_id === patient)?.grants ?? [])
    .catch((e: unknown) => {
      replace(grantsBox, failure(e));
      return null;
    });
  if (grants) {
    const active = grants.filter((g) => g.status === "active");
    // Writing needs a grant with write access; without one the form is not offered.
    replace(
      checkupBox,
      active.some((g) => g.access.includes("write"))
        ? [h("p", null, t("portal.checkup_intro")), checkupForm(patient, () => void loadNotes())]
        : h("p", null, t("portal.no_write_grant")),
    );
    replace(
      grantsBox,
      active.length
        ? notice("info", h("ul", { class: "plain" }, active.map((g) => h("li", null, grantText(g), " — ", g.purpose))))
        : notice("warn", t("portal.no_active_grant")),
    );
  }
  await Promise.all([loadSummary(summaryBox, patient, isoDay(new Date()), ctx.signal), role === "hospital" ? loadNotes() : Promise.resolve()]);
}
