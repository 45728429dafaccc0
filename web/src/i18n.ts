// The message catalog: every piece of UI text is looked up here by key. English is the
// reference (`messages/en.ts`); every other locale must have exactly the same keys, which
// the type `Messages` makes the compiler check. Placeholders are `{name}`.

import { en, type MessageKey, type Messages } from "./messages/en";
import { zhCN } from "./messages/zh-CN";

export type { MessageKey };

export const LOCALES = { en: en, "zh-CN": zhCN } satisfies Record<string, Messages>;
export type Locale = keyof typeof LOCALES;

const STORAGE_KEY = "vitalis.locale";

function initialLocale(): Locale {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored && stored in LOCALES) return stored as Locale;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let current: Locale = initialLocale();
const listeners: Array<() => void> = [];

export function locale(): Locale {
  return current;
}

/** Switches the language, remembers it on this browser, and re-renders. */
export function setLocale(next: Locale): void {
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  for (const listener of listeners) listener();
}

export function onLocaleChange(listener: () => void): void {
  listeners.push(listener);
}

/** The text of `key` in the current language, with `{placeholders}` filled in. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text: string = LOCALES[current][key] ?? en[key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The text of a key built at run time (an API error code, a metric name), if it exists. */
export function tMaybe(key: string, params?: Record<string, string | number>): string | undefined {
  return key in en ? t(key as MessageKey, params) : undefined;
}

document.documentElement.lang = current;
