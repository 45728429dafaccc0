// The patient's live stream (`GET /patients/{id}/live`, Server-Sent Events): a
// `readings` event per stored upload and an `alert` event per fired alert. The browser
// reconnects by itself after a drop; readings stored meanwhile are in the read API.

import { API } from "./api";
import type { Alert, LiveBatch } from "./types";

export type LiveState = "connecting" | "open" | "reconnecting";

export interface LiveHandlers {
  readings(batch: LiveBatch): void;
  alert(alert: Alert): void;
  state(state: LiveState): void;
  /** Uploads were missed (the client was too slow); reload from the read API. */
  lagged(): void;
}

export function subscribe(patient: string, handlers: LiveHandlers, signal: AbortSignal): void {
  const source = new EventSource(`${API}/patients/${encodeURIComponent(patient)}/live`);
  handlers.state("connecting");
  source.addEventListener("open", () => handlers.state("open"));
  source.addEventListener("error", () => handlers.state("reconnecting"));
  source.addEventListener("readings", (event) => {
    handlers.readings(JSON.parse((event as MessageEvent<string>).data) as LiveBatch);
  });
  source.addEventListener("alert", (event) => {
    handlers.alert(JSON.parse((event as MessageEvent<string>).data) as Alert);
  });
  source.addEventListener("lagged", () => handlers.lagged());
  signal.addEventListener("abort", () => source.close());
}
