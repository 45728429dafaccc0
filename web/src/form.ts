// Forms with field-level errors. Each field has a label, its input and a place for its
// error; the form checks its input before sending and shows the server's refusal under
// the field it names (`error.field`), or above the button when it names none.

import { ApiFailure } from "./api";
import { h, type Child } from "./dom";
import { t } from "./i18n";

type Input = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

let nextId = 0;

/** A labelled field; `input.name` is the API's field name. */
export function field(label: string, input: Input, hint?: string): HTMLElement {
  const id = input.id || `f${++nextId}`;
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": input.name, hidden: true });
  input.setAttribute("aria-describedby", `${id}-error`);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint" }, hint) : null,
    error,
  );
}

/** A check box with its label on the right. */
export function check(label: string, input: HTMLInputElement): HTMLElement {
  input.type = "checkbox";
  return h("label", { class: "check" }, input, " ", label);
}

export class Form {
  readonly element: HTMLFormElement;
  private readonly message: HTMLElement;
  private readonly button: HTMLButtonElement;

  constructor(
    children: Child[],
    submitLabel: string,
    private readonly onSubmit: (form: Form) => Promise<void>,
  ) {
    this.message = h("p", { class: "form-error", role: "alert", hidden: true });
    this.button = h("button", { type: "submit", class: "primary" }, submitLabel);
    this.element = h("form", { novalidate: true }, children, this.message, this.button);
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
  }

  input<T extends Input = HTMLInputElement>(name: string): T {
    const el = this.element.elements.namedItem(name);
    if (!el) throw new Error(`no field ${name}`);
    return el as T;
  }

  value(name: string): string {
    return this.input(name).value.trim();
  }

  /** Values of the checked boxes named `name`. */
  checked(name: string): string[] {
    return [...this.element.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
  }

  clear(): void {
    this.message.hidden = true;
    for (const el of this.element.querySelectorAll<HTMLElement>(".field-error")) {
      el.hidden = true;
      el.textContent = "";
    }
    for (const el of this.element.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  /** Shows `message` under the field `name`, or for the whole form when there is none. */
  error(name: string | undefined, message: string): void {
    const slot = name ? this.element.querySelector<HTMLElement>(`[data-error-for="${name}"]`) : null;
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
      const input = this.element.elements.namedItem(name!);
      if (input instanceof Element) input.setAttribute("aria-invalid", "true");
    } else {
      this.message.textContent = message;
      this.message.hidden = false;
    }
  }

  hasErrors(): boolean {
    return this.element.querySelector("[aria-invalid]") !== null || !this.message.hidden;
  }

  /** Requires a value in each named field. */
  require(...names: string[]): void {
    for (const name of names) if (!this.value(name)) this.error(name, t("form.required"));
  }

  private async submit(): Promise<void> {
    this.clear();
    this.button.disabled = true;
    try {
      await this.onSubmit(this);
    } catch (e) {
      if (e instanceof Invalid) return;
      if (e instanceof ApiFailure) this.error(e.field, e.describe());
      else this.error(undefined, String(e));
    } finally {
      this.button.disabled = false;
    }
  }
}

/** Throws to stop a submission when checks failed (the errors are already shown). */
export class Invalid extends Error {}

/** Stops the submission if `form` shows any error. */
export function stopIfInvalid(form: Form): void {
  if (form.hasErrors()) throw new Invalid();
}
