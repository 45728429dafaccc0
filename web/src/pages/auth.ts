// Sign-up (the recovery key is shown once), sign-in, and a new password with the
// recovery key.

import { post } from "../api";
import { h } from "../dom";
import { Form, field, stopIfInvalid } from "../form";
import { t } from "../i18n";
import { navigate, type PageContext } from "../router";
import { begin } from "../session";
import type { Account, SignUpAnswer } from "../types";
import { card, heading, notice } from "../ui";
import { homeOf } from "../home";

const MIN_PASSWORD = 12;

function emailInput(): HTMLInputElement {
  return h("input", { name: "email", type: "email", autocomplete: "email", inputmode: "email", required: true });
}

function checkEmail(form: Form): void {
  const email = form.value("email");
  if (!email) form.error("email", t("form.required"));
  else if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) form.error("email", t("error.invalid_email"));
}

function checkNewPassword(form: Form, name: string): void {
  const password = form.input(name).value;
  if (!password) form.error(name, t("form.required"));
  else if ([...password].length < MIN_PASSWORD) form.error(name, t("error.weak_password"));
}

export function signIn(ctx: PageContext): void {
  const form = new Form(
    [
      field(t("auth.email"), emailInput()),
      field(t("auth.password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    ],
    t("auth.sign_in"),
    async (f) => {
      checkEmail(f);
      f.require("password");
      stopIfInvalid(f);
      const answer = await post<{ account: Account; csrf_token: string }>("/auth/signin", {
        email: f.value("email"),
        password: f.input("password").value,
      });
      begin(answer);
      const next = ctx.query.get("next");
      navigate(next && next.startsWith("/app/") ? next : homeOf(answer.account), true);
    },
  );
  ctx.root.append(
    h(
      "div",
      { class: "narrow" },
      heading(t("auth.sign_in")),
      ctx.query.get("deleted") === "1" ? notice("ok", h("span", { "data-testid": "account-deleted" }, t("auth.deleted"))) : null,
      card(null, form.element),
      h(
        "p",
        { class: "alt" },
        h("a", { href: "/app/signup" }, t("auth.create_account")),
        " · ",
        h("a", { href: "/app/recover" }, t("auth.forgot")),
      ),
    ),
  );
}

export function signUp(ctx: PageContext): void {
  const role = h(
    "select",
    { name: "role" },
    (["patient", "hospital", "researcher", "enterprise"] as const).map((r) => h("option", { value: r }, t(`role.${r}`))),
  );
  const institution = field(t("auth.institution_name"), h("input", { name: "institution_name", autocomplete: "organization" }));
  institution.hidden = true;
  role.addEventListener("change", () => {
    institution.hidden = role.value === "patient";
  });
  const form = new Form(
    [
      field(t("auth.role"), role),
      field(t("auth.name"), h("input", { name: "name", autocomplete: "name", required: true })),
      institution,
      field(t("auth.email"), emailInput()),
      field(
        t("auth.password"),
        h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSWORD }),
        t("auth.password_hint", { n: MIN_PASSWORD }),
      ),
    ],
    t("auth.create_account"),
    async (f) => {
      f.require("name");
      if (role.value !== "patient") f.require("institution_name");
      checkEmail(f);
      checkNewPassword(f, "password");
      stopIfInvalid(f);
      const answer = await post<SignUpAnswer>("/auth/signup", {
        role: role.value,
        name: f.value("name"),
        email: f.value("email"),
        password: f.input("password").value,
        institution_name: role.value === "patient" ? undefined : f.value("institution_name"),
      });
      showRecoveryKey(ctx, answer);
    },
  );
  ctx.root.append(
    h(
      "div",
      { class: "narrow" },
      heading(t("auth.create_account")),
      card(null, form.element),
      h("p", { class: "alt" }, h("a", { href: "/app/signin" }, t("auth.have_account"))),
    ),
  );
}

/** The recovery key, once: the account is usable only after the user says it is stored. */
function showRecoveryKey(ctx: PageContext, answer: SignUpAnswer): void {
  const active = answer.account.status === "active";
  const stored = h("input", { type: "checkbox", name: "stored" });
  const go = h("button", { type: "button", class: "primary", disabled: true }, active ? t("auth.continue") : t("auth.to_sign_in"));
  stored.addEventListener("change", () => {
    go.disabled = !stored.checked;
  });
  go.addEventListener("click", () => {
    if (active) {
      begin({ account: answer.account, csrf_token: answer.csrf_token ?? null });
      navigate(homeOf(answer.account), true);
    } else {
      navigate("/app/signin", true);
    }
  });
  ctx.root.replaceChildren(
    h(
      "div",
      { class: "narrow" },
      heading(t("auth.account_created")),
      card(
        t("auth.recovery_key"),
        h("p", null, t("auth.recovery_key_once")),
        h("pre", { class: "secret", "data-testid": "recovery-key" }, answer.recovery_key),
        active ? null : notice("info", t("auth.pending_approval")),
        h("label", { class: "check" }, stored, " ", t("auth.recovery_key_stored")),
        go,
      ),
    ),
  );
}

export function recover(ctx: PageContext): void {
  const done = h("div");
  const form = new Form(
    [
      field(t("auth.email"), emailInput()),
      field(t("auth.recovery_key"), h("input", { name: "recovery_key", autocomplete: "off", spellcheck: "false", required: true })),
      field(
        t("auth.new_password"),
        h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true }),
        t("auth.password_hint", { n: MIN_PASSWORD }),
      ),
    ],
    t("auth.set_password"),
    async (f) => {
      checkEmail(f);
      const key = f.value("recovery_key").replace(/[\s-]/g, "");
      if (!key) f.error("recovery_key", t("form.required"));
      else if (!/^[0-9a-fA-F]{64}$/.test(key)) f.error("recovery_key", t("error.invalid_recovery_key_format"));
      checkNewPassword(f, "new_password");
      stopIfInvalid(f);
      await post("/auth/recover", {
        email: f.value("email"),
        recovery_key: f.value("recovery_key"),
        new_password: f.input("new_password").value,
      });
      form.element.hidden = true;
      done.replaceChildren(notice("ok", t("auth.password_set"), " ", h("a", { href: "/app/signin" }, t("auth.sign_in"))));
    },
  );
  ctx.root.append(h("div", { class: "narrow" }, heading(t("auth.forgot")), card(null, h("p", null, t("auth.recover_intro")), form.element, done)));
}
