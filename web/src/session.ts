// Who is signed in. The session itself is an HttpOnly cookie the page cannot read; the
// page keeps the account and the CSRF token the sign-in answered, and remembers only
// that it was signed in (no secret), so that a signed-out visit does not ask the server
// for a session it does not have.

import { api, get, post, setCsrf, ApiFailure } from "./api";
import type { Account, SessionAnswer } from "./types";

const HINT_KEY = "vitalis.signed-in";

let account: Account | null = null;

export function current(): Account | null {
  return account;
}

/** Records a session the server just started (sign-up, sign-in, password change). */
export function begin(answer: { account: Account; csrf_token?: string | null }): void {
  account = answer.account;
  setCsrf(answer.csrf_token ?? null);
  localStorage.setItem(HINT_KEY, "1");
}

function forget(): void {
  account = null;
  setCsrf(null);
  localStorage.removeItem(HINT_KEY);
}

/** Restores the session on page load, if this browser was signed in. */
export async function restore(): Promise<Account | null> {
  if (!localStorage.getItem(HINT_KEY)) return null;
  try {
    const answer = await get<SessionAnswer>("/auth/session");
    begin(answer);
    return account;
  } catch (e) {
    if (e instanceof ApiFailure && e.status !== 0) forget();
    return null;
  }
}

export async function signOut(): Promise<void> {
  try {
    await post("/auth/signout");
  } finally {
    forget();
  }
}

/** Deletes the signed-in patient's account (the server erases its data). */
export async function deleteAccount(password: string): Promise<void> {
  await api("DELETE", "/auth/account", { password });
  forget();
}

/** Called when the server says the session has ended. */
export function expired(): void {
  forget();
}
