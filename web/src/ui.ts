// Small building blocks shared by the pages.

import { ApiFailure } from "./api";
import { h, type Child } from "./dom";
import { t } from "./i18n";

export function heading(text: string, ...extra: Child[]): HTMLElement {
  return h("div", { class: "page-head" }, h("h1", null, text), extra);
}

export function card(title: string | null, ...children: Child[]): HTMLElement {
  return h("section", { class: "card" }, title ? h("h2", null, title) : null, children);
}

export function notice(kind: "info" | "ok" | "error" | "warn", ...children: Child[]): HTMLElement {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, children);
}

export function loading(): HTMLElement {
  return h("p", { class: "loading", "aria-busy": "true" }, t("common.loading"));
}

/** A refusal or failure as the user should read it. */
export function describe(e: unknown): string {
  if (e instanceof ApiFailure) return e.describe();
  return e instanceof Error ? e.message : String(e);
}

export function failure(e: unknown): HTMLElement {
  const code = e instanceof ApiFailure ? e.code : "error";
  return h("div", { class: "notice error", role: "alert", "data-code": code }, describe(e));
}

/** A table; `rows` of cells. On a phone each row becomes a card of labelled cells (the
 * labels come from `data-label`); wider tables scroll sideways rather than overflow. */
export function table(headers: string[], rows: Child[][], attrs: Record<string, string> = {}): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", null, h("tr", null, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", null, rows.map((r) => h("tr", null, r.map((c, i) => h("td", { "data-label": headers[i] ?? "" }, c))))),
    ),
  );
}

/** A button that runs `action`, disabled meanwhile; a failure is shown next to it. */
export function actionButton(label: string, action: () => Promise<void>, cls = ""): HTMLElement {
  const error = h("span", { class: "inline-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", class: cls }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    error.hidden = true;
    try {
      await action();
    } catch (e) {
      error.textContent = describe(e);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return h("span", { class: "action" }, button, error);
}

/** A long identifier: shortened, whole in its title, selectable. */
export function code(value: string, keep = 8): HTMLElement {
  const shown = value.length <= keep * 2 + 1 ? value : `${value.slice(0, keep)}…${value.slice(-keep)}`;
  return h("code", { title: value }, shown);
}

/** Renders `load()` into `slot`: a loading line, then the content or the failure. */
export async function fill(slot: HTMLElement, load: () => Promise<Child>): Promise<void> {
  slot.replaceChildren(loading());
  try {
    const content = await load();
    slot.replaceChildren();
    if (content instanceof Node) slot.append(content);
    else if (Array.isArray(content)) slot.append(...(content.filter((c) => c instanceof Node) as Node[]));
    else if (content !== null && content !== undefined && content !== false) slot.append(String(content));
  } catch (e) {
    slot.replaceChildren(failure(e));
  }
}
