// Path routing under `/app/…` with the History API. The server answers every `/app/…`
// path with the same page, so a reload or a shared link lands on the right view.

import type { MessageKey } from "./i18n";
import type { Account, Role } from "./types";

export interface PageContext {
  /** Where the page renders. */
  root: HTMLElement;
  /** `:name` parts of the route's pattern. */
  params: Record<string, string>;
  /** The query string. */
  query: URLSearchParams;
  /** Aborted when the user leaves the page: close streams, stop timers, drop charts. */
  signal: AbortSignal;
  /** The signed-in account (public pages get `null`). */
  account: Account | null;
}

export type Page = (ctx: PageContext) => void | Promise<void>;

export interface Route {
  pattern: string;
  page: Page;
  /** Who may open it; `public` pages are for signed-out visitors. */
  roles: Role[] | "public";
  title: MessageKey;
  /** Shown in the navigation bar of these roles. */
  nav?: boolean;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

export function match(routes: Route[], path: string): Match | null {
  const parts = path.replace(/\/+$/, "").split("/");
  for (const route of routes) {
    const pattern = route.pattern.split("/");
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i]!;
      const v = parts[i]!;
      if (p.startsWith(":")) {
        if (!v) ok = false;
        else params[p.slice(1)] = decodeURIComponent(v);
      } else if (p !== v) {
        ok = false;
      }
      if (!ok) break;
    }
    if (ok) return { route, params };
  }
  return null;
}

let onNavigate: () => void = () => {};

/** Goes to `path` (within the app) and renders it. */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  onNavigate();
}

/** Calls `render` on every navigation: links to `/app/…`, back and forward. */
export function start(render: () => void): void {
  onNavigate = render;
  window.addEventListener("popstate", render);
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.("a");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith("/app")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
}
