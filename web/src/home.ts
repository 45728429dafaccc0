// Where each role lands after signing in.

import type { Account } from "./types";

export function homeOf(account: Account): string {
  switch (account.role) {
    case "patient":
      return "/app/dashboard";
    case "hospital":
      return "/app/patients";
    case "researcher":
      return "/app/patients";
    case "enterprise":
      return "/app/aggregates";
    case "supervisor":
      return "/app/institutions";
    default:
      return "/app/account";
  }
}
