// The signed-in account: who, which role, the ledger address of its key.

import { h } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../router";
import { card, heading } from "../ui";

export function accountPage(ctx: PageContext): void {
  const a = ctx.account!;
  ctx.root.append(
    heading(t("nav.account")),
    card(
      null,
      h(
        "dl",
        { class: "facts" },
        h("dt", null, t("auth.name")),
        h("dd", null, a.name),
        h("dt", null, t("auth.email")),
        h("dd", null, a.email),
        h("dt", null, t("auth.role")),
        h("dd", null, t(`role.${a.role}`)),
        a.address ? [h("dt", null, t("account.address")), h("dd", null, h("code", null, a.address))] : null,
        a.patient_id ? [h("dt", null, t("account.patient_id")), h("dd", null, h("code", { "data-testid": "patient-id" }, a.patient_id))] : null,
        a.institution_id ? [h("dt", null, t("account.institution_id")), h("dd", null, h("code", null, a.institution_id))] : null,
      ),
      a.role === "admin" ? h("p", null, t("account.admin_note")) : null,
    ),
  );
}
