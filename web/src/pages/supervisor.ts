// The supervisor: approve or suspend institutions (also in the ledger's identity
// registry), issue attribute keys as the attribute authority, and the whole access log
// with each entry verified against its batch on chain.

import { get, post } from "../api";
import { h, replace } from "../dom";
import { dateTime } from "../format";
import { t } from "../i18n";
import type { PageContext } from "../router";
import type { Institution } from "../types";
import { Form, field, stopIfInvalid } from "../form";
import { actionButton, card, code, fill, heading, notice, table } from "../ui";
import { accessLog } from "./sharing";

export async function institutions(ctx: PageContext): Promise<void> {
  const box = h("div");
  const keys = attributeKeysCard(ctx.signal);
  const load = () =>
    fill(box, async () => {
      const list = (await get<{ institutions: Institution[] }>("/institutions", ctx.signal)).institutions;
      if (!list.length) return h("p", null, t("supervisor.no_institutions"));
      return table(
        [t("supervisor.institution"), t("supervisor.role"), t("supervisor.registered"), t("supervisor.status"), ""],
        list.map((i) => [
          h("span", { "data-institution": i.id }, h("strong", null, i.name), h("br"), code(i.address, 6)),
          t(`role.${i.role}`),
          dateTime(i.created_at),
          h("span", { class: `badge ${i.status === "active" ? "ok" : i.status === "pending" ? "warn" : "muted"}`, "data-status": i.status }, t(`status.${i.status}`)),
          h(
            "span",
            null,
            i.status !== "active"
              ? actionButton(t("supervisor.approve"), async () => {
                  await post(`/institutions/${encodeURIComponent(i.id)}/approve`);
                  await Promise.all([load(), keys.load()]);
                }, "primary small")
              : null,
            " ",
            i.status !== "suspended"
              ? actionButton(t("supervisor.suspend"), async () => {
                  if (!confirm(t("supervisor.suspend_confirm", { name: i.name }))) return;
                  await post(`/institutions/${encodeURIComponent(i.id)}/suspend`);
                  await Promise.all([load(), keys.load()]);
                }, "danger small")
              : null,
          ),
        ]),
        { "data-testid": "institutions" },
      );
    });
  ctx.root.append(heading(t("nav.institutions")), card(null, h("p", null, t("supervisor.intro")), box), keys.element);
  await load();
}

interface IssuedKey {
  account: string;
  institution: string;
  attributes: string[];
  issued_at: number;
}

/** Issued attribute keys, and issuing an institution's accounts more attributes. */
function attributeKeysCard(signal: AbortSignal): { element: HTMLElement; load: () => Promise<void> } {
  const box = h("div");
  // Outside the part that reloads, so the outcome stays in view.
  const done = h("div", { "data-testid": "issue-outcome" });
  const load = () =>
    fill(box, async () => {
      const [{ keys }, { institutions: list }] = await Promise.all([
        get<{ keys: IssuedKey[] }>("/attribute-keys", signal),
        get<{ institutions: Institution[] }>("/institutions", signal),
      ]);
      const names = new Map(list.map((i) => [i.id, i.name]));
      const issued = keys.length
        ? table(
            [t("supervisor.institution"), t("supervisor.attributes"), t("supervisor.issued")],
            keys.map((k) => [names.get(k.institution) ?? k.institution, h("span", null, k.attributes.map((a) => [code(a, 40), " "])), dateTime(k.issued_at)]),
            { "data-testid": "attribute-keys" },
          )
        : h("p", null, t("supervisor.no_keys"));
      const approved = list.filter((i) => i.status === "active" && i.role !== "enterprise");
      const form = new Form(
        [
          field(t("supervisor.institution"), h("select", { name: "institution" }, approved.map((i) => h("option", { value: i.id }, i.name)))),
          field(t("supervisor.attributes"), h("input", { name: "attributes", placeholder: "dept:cardiology", autocomplete: "off", spellcheck: false }), t("supervisor.attributes_hint")),
        ],
        t("supervisor.issue"),
        async (f) => {
          f.require("attributes");
          stopIfInvalid(f);
          const attributes = f.value("attributes").split(/[\s,]+/).filter(Boolean);
          const answer = await post<{ issued: number; waiting: number }>(`/institutions/${encodeURIComponent(f.value("institution"))}/attribute-keys`, { attributes });
          await load();
          replace(done, notice("ok", t("supervisor.issued_n", { n: answer.issued, waiting: answer.waiting })));
        },
      );
      return h("div", null, issued, approved.length ? [h("h3", null, t("supervisor.issue")), form.element] : null);
    });
  void load();
  return { element: card(t("supervisor.keys"), h("p", null, t("supervisor.keys_intro")), box, done), load };
}

export async function auditLog(ctx: PageContext): Promise<void> {
  const { institutions: list } = await get<{ institutions: Institution[] }>("/institutions", ctx.signal);
  const names = new Map(list.map((i) => [i.id, i.name]));
  ctx.root.append(
    heading(t("nav.audit")),
    card(null, h("p", null, t("supervisor.audit_intro")), accessLog("/audit/access-log", names, ctx.signal, { withPatient: true })),
  );
}
