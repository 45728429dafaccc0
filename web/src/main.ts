// Vitalis web interface: entry point.
//
// A single-page application in plain TypeScript, bundled by esbuild (`web/build.mjs`)
// and embedded in the `vitalis` binary, which serves it at `/` and `/app/…`. No
// framework: each page is a function that builds its DOM with `h()` (dom.ts) and
// re-renders the parts that change; the whole app is a few pages of forms, tables and
// charts, for which a framework would add weight and a second way of doing things
// without removing any real difficulty. Charts are uPlot, made for time series.
//
// Layout of `web/src`: `api.ts` (HTTP client, CSRF), `session.ts` (who is signed in),
// `router.ts` (History API routing), `i18n.ts` with `messages/` (the message catalog:
// English and Simplified Chinese), `chart.ts` (uPlot), `live.ts` (the SSE stream),
// `form.ts` (field-level errors), `pages/` (one module per area).

import { h, replace } from "./dom";
import { LOCALES, locale, onLocaleChange, setLocale, t, type Locale } from "./i18n";
import { match, navigate, start, type Route } from "./router";
import { current, expired, restore, signOut } from "./session";
import { homeOf } from "./home";
import { ApiFailure } from "./api";
import { failure, heading, notice } from "./ui";
import { recover, signIn, signUp } from "./pages/auth";
import { dashboard } from "./pages/dashboard";
import { devices } from "./pages/devices";
import { records } from "./pages/records";
import { sharing } from "./pages/sharing";
import { history } from "./pages/history";
import { settings } from "./pages/settings";
import { patientDetail, patientList } from "./pages/hospital";
import { aggregates } from "./pages/enterprise";
import { auditLog, institutions } from "./pages/supervisor";
import { accountPage } from "./pages/account";
import { datasetRequests } from "./pages/research";

const ROUTES: Route[] = [
  { pattern: "/app/signin", page: signIn, roles: "public", title: "auth.sign_in" },
  { pattern: "/app/signup", page: signUp, roles: "public", title: "auth.create_account" },
  { pattern: "/app/recover", page: recover, roles: "public", title: "auth.forgot" },
  { pattern: "/app/dashboard", page: dashboard, roles: ["patient"], title: "nav.dashboard", nav: true },
  { pattern: "/app/history", page: history, roles: ["patient"], title: "nav.history", nav: true },
  { pattern: "/app/records", page: records, roles: ["patient"], title: "nav.records", nav: true },
  { pattern: "/app/devices", page: devices, roles: ["patient"], title: "nav.devices", nav: true },
  { pattern: "/app/sharing", page: sharing, roles: ["patient"], title: "nav.sharing", nav: true },
  { pattern: "/app/settings", page: settings, roles: ["patient"], title: "nav.settings", nav: true },
  { pattern: "/app/patients", page: patientList, roles: ["hospital", "researcher", "enterprise"], title: "nav.patients", nav: true },
  { pattern: "/app/patients/:id", page: patientDetail, roles: ["hospital", "enterprise"], title: "nav.patients" },
  { pattern: "/app/aggregates", page: aggregates, roles: ["enterprise"], title: "nav.aggregates", nav: true },
  { pattern: "/app/requests", page: datasetRequests, roles: ["researcher"], title: "nav.requests", nav: true },
  { pattern: "/app/institutions", page: institutions, roles: ["supervisor"], title: "nav.institutions", nav: true },
  { pattern: "/app/audit", page: auditLog, roles: ["supervisor"], title: "nav.audit", nav: true },
  { pattern: "/app/account", page: accountPage, roles: ["patient", "hospital", "researcher", "enterprise", "supervisor", "admin"], title: "nav.account", nav: true },
];

const app = document.getElementById("app")!;
let leaving: AbortController | null = null;

function languageSelect(): HTMLElement {
  const select = h(
    "select",
    { "aria-label": t("settings.language"), class: "lang", "data-testid": "language" },
    (Object.keys(LOCALES) as Locale[]).map((l) => h("option", { value: l, selected: l === locale() }, t(`lang.${l}`))),
  );
  select.addEventListener("change", () => setLocale(select.value as Locale));
  return select;
}

function header(path: string): HTMLElement {
  const account = current();
  const links = account
    ? ROUTES.filter((r) => r.nav && Array.isArray(r.roles) && r.roles.includes(account.role)).map((r) =>
        h("a", { href: r.pattern, "aria-current": path.startsWith(r.pattern) ? "page" : null }, t(r.title)),
      )
    : [];
  const out = h("button", { type: "button", class: "link", "data-testid": "sign-out" }, t("auth.sign_out"));
  out.addEventListener("click", async () => {
    await signOut().catch(() => undefined);
    navigate("/app/signin", true);
  });
  return h(
    "header",
    { class: "top" },
    h(
      "div",
      { class: "bar" },
      h("a", { href: account ? homeOf(account) : "/app/signin", class: "brand" }, "Vitalis"),
      h("span", { class: "spacer" }),
      languageSelect(),
      account ? h("span", { class: "who", title: account.email }, account.name) : null,
      account ? out : null,
    ),
    links.length ? h("nav", { "aria-label": t("nav.main") }, links) : null,
  );
}

async function render(): Promise<void> {
  leaving?.abort();
  const controller = new AbortController();
  leaving = controller;
  const path = location.pathname;
  const account = current();
  if (path === "/" || path === "/app" || path === "/app/") {
    navigate(account ? homeOf(account) : "/app/signin", true);
    return;
  }
  const found = match(ROUTES, path);
  if (found && found.route.roles === "public" && account) {
    navigate(homeOf(account), true);
    return;
  }
  if (found && found.route.roles !== "public" && !account) {
    navigate(`/app/signin?next=${encodeURIComponent(path + location.search)}`, true);
    return;
  }
  const main = h("main", { id: "main" });
  replace(app, header(path), main);
  if (!found) {
    document.title = "Vitalis";
    main.append(heading(t("page.not_found")), notice("info", h("a", { href: "/app" }, t("page.go_home"))));
    return;
  }
  document.title = `${t(found.route.title)} · Vitalis`;
  if (account && Array.isArray(found.route.roles) && !found.route.roles.includes(account.role)) {
    main.append(heading(t(found.route.title)), notice("info", t("page.not_for_role")));
    return;
  }
  try {
    await found.route.page({
      root: main,
      params: found.params,
      query: new URLSearchParams(location.search),
      signal: controller.signal,
      account,
    });
  } catch (e) {
    if (controller.signal.aborted) return;
    if (e instanceof ApiFailure && e.status === 401 && account) {
      expired();
      navigate(`/app/signin?next=${encodeURIComponent(path)}`, true);
      return;
    }
    main.append(failure(e));
  }
}

onLocaleChange(() => void render());
start(() => void render());
void restore().then(() => render());
