// The supervisor: approve or suspend institutions (also in the ledger's identity
// registry), and the whole access log with each entry verified against its batch on chain.

import { get, post } from "../api";
import { h } from "../dom";
import { dateTime } from "../format";
import { t } from "../i18n";
import type { PageContext } from "../router";
import type { Institution } from "../types";
import { actionButton, card, code, fill, heading, table } from "../ui";
import { accessLog } from "./sharing";

export async function institutions(ctx: PageContext): Promise<void> {
  const box = h("div");
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
                  await load();
                }, "primary small")
              : null,
            " ",
            i.status !== "suspended"
              ? actionButton(t("supervisor.suspend"), async () => {
                  if (!confirm(t("supervisor.suspend_confirm", { name: i.name }))) return;
                  await post(`/institutions/${encodeURIComponent(i.id)}/suspend`);
                  await load();
                }, "danger small")
              : null,
          ),
        ]),
        { "data-testid": "institutions" },
      );
    });
  ctx.root.append(heading(t("nav.institutions")), card(null, h("p", null, t("supervisor.intro")), box));
  await load();
}

export async function auditLog(ctx: PageContext): Promise<void> {
  const { institutions: list } = await get<{ institutions: Institution[] }>("/institutions", ctx.signal);
  const names = new Map(list.map((i) => [i.id, i.name]));
  ctx.root.append(
    heading(t("nav.audit")),
    card(null, h("p", null, t("supervisor.audit_intro")), accessLog("/audit/access-log", names, ctx.signal, { withPatient: true })),
  );
}
