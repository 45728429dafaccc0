// The patient's chain of records (sequence, section, content id, commitment, anchor
// block and transaction) and the Verify button, which runs the server's full check of
// the history against the ledger and shows the result of every step.

import { get, query } from "../api";
import { h, replace } from "../dom";
import { dateTime, number, time } from "../format";
import { t } from "../i18n";
import { sectionLabel } from "../metrics";
import type { PageContext } from "../router";
import type { ChainRecord, VerifyReport, VerifyStep } from "../types";
import { actionButton, card, code, fill, heading, notice, table } from "../ui";

const PAGE = 50;

/** The checks in the order the verifier runs them for each record. */
const STEPS: VerifyStep[] = ["sequence", "link", "payload", "payload_cid", "payload_hash", "commitment", "proof", "on_chain_root"];
/** Steps that need the record's anchor: pending records are not yet checked by them. */
const ANCHOR_STEPS = new Set<VerifyStep>(["proof", "on_chain_root"]);

function verifyResult(report: VerifyReport): HTMLElement {
  const items = STEPS.map((step) => {
    const failures = report.failures.filter((f) => f.step === step);
    const checked = ANCHOR_STEPS.has(step) ? report.anchored : report.records;
    const passed = failures.length === 0;
    const result =
      checked === 0 && passed
        ? h("span", { class: "badge muted" }, t("verify.not_checked"))
        : passed
          ? h("span", { class: "badge ok" }, t("verify.passed"))
          : h("span", { class: "badge error" }, t("verify.failed"));
    const detail = passed
      ? h("span", { class: "muted" }, ANCHOR_STEPS.has(step) && report.pending > 0 ? t("verify.checked_pending", { n: checked, pending: report.pending }) : t("verify.checked", { n: checked }))
      : h("ul", null, failures.map((f) => h("li", null, t("verify.failure_at", { seq: f.seq }), " ", f.detail)));
    return h(
      "li",
      { "data-step": step, "data-passed": String(passed) },
      result,
      " ",
      h("strong", null, t(`verify.step.${step}`)),
      " — ",
      t(`verify.about.${step}`),
      h("br"),
      detail,
    );
  });
  return h(
    "div",
    { "data-testid": "verify-result", "data-ok": String(report.ok), "data-records": String(report.records), "data-anchored": String(report.anchored) },
    report.ok
      ? notice("ok", t("verify.ok", { n: report.records, anchored: report.anchored, pending: report.pending }))
      : notice("error", t("verify.not_ok", { n: report.failures.length })),
    h("ul", { class: "plain steps" }, items),
  );
}

export async function records(ctx: PageContext): Promise<void> {
  const patient = ctx.account!.patient_id!;
  const listBox = h("div");
  const pager = h("div", { class: "pager" });
  const verifyBox = h("div");
  // Without ?after= the page opens on the newest records.
  const asked = ctx.query.get("after");
  let after: number | null = asked === null ? null : Math.max(0, Number(asked) || 0);

  const load = () =>
    fill(listBox, async () => {
      const params = after === null ? { newest: "true", limit: PAGE } : { after_seq: after, limit: PAGE };
      const answer = await get<{ records: ChainRecord[]; head: number; after_seq: number }>(`/patients/${patient}/records${query(params)}`, ctx.signal);
      after = answer.after_seq;
      renderPager(answer.records.length, answer.head);
      if (!answer.records.length) return h("p", null, answer.head ? t("records.no_more") : t("records.none"));
      return table(
        [t("records.seq"), t("records.time"), t("records.section"), t("records.readings"), t("records.cid"), t("records.commitment"), t("records.anchor")],
        // Newest first.
        [...answer.records].reverse().map((r) => [
          h("span", { "data-seq": r.seq }, number(r.seq)),
          r.t_to === r.t_from ? dateTime(r.t_from) : `${dateTime(r.t_from)} – ${time(r.t_to)}`,
          sectionLabel(r.section),
          number(r.readings),
          code(r.cid, 10),
          code(r.commitment, 8),
          anchorCell(r),
        ]),
        { "data-testid": "records-table" },
      );
    });

  const anchorCell = (r: ChainRecord) => {
    if (!r.anchor) return h("span", { class: "badge muted" }, t("records.not_anchored"));
    if (r.anchor.status === "pending") return h("span", { class: "badge warn" }, t("records.anchor_pending"));
    return h(
      "span",
      { "data-block": r.anchor.block ?? "" },
      t("records.block", { n: r.anchor.block ?? "—" }),
      h("br"),
      r.anchor.tx ? code(r.anchor.tx, 8) : "",
    );
  };

  const renderPager = (count: number, head: number) => {
    const from = after ?? 0;
    const go = (to: number) => {
      // The last page is the newest one: it follows the chain as it grows.
      after = to >= head - PAGE ? null : Math.max(0, to);
      history.replaceState(null, "", `/app/records${after !== null ? `?after=${after}` : ""}`);
      void load();
    };
    const jump = h("input", { type: "number", min: 1, step: 1, class: "short", "aria-label": t("records.jump"), placeholder: t("records.seq") });
    const jumpForm = h("form", { class: "inline-form" }, jump, h("button", { type: "submit" }, t("records.jump")));
    jumpForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const n = Number(jump.value);
      if (Number.isInteger(n) && n >= 1) go(n - 1);
    });
    const older = h("button", { type: "button", disabled: from === 0 }, t("records.earlier"));
    older.addEventListener("click", () => go(from - PAGE));
    const newer = h("button", { type: "button", disabled: from + count >= head }, t("records.later"));
    newer.addEventListener("click", () => go(from + PAGE));
    replace(pager, older, " ", newer, " ", jumpForm);
  };

  ctx.root.append(
    heading(t("nav.records")),
    card(
      t("records.verify_title"),
      h("p", null, t("records.verify_intro")),
      actionButton(t("records.verify"), async () => {
        replace(verifyBox, h("p", { class: "loading" }, t("records.verifying")));
        try {
          const report = await get<VerifyReport>(`/patients/${patient}/verify`, ctx.signal);
          replace(verifyBox, verifyResult(report));
        } catch (e) {
          replace(verifyBox);
          throw e;
        }
      }, "primary"),
      verifyBox,
    ),
    card(t("records.chain"), h("p", null, t("records.intro")), pager, listBox),
    explorerCard(ctx.signal),
  );
  await load();
}

interface Explorer {
  blocks: { number: number; hash: string; time: number; transactions: number }[];
  anchors: { id: number; root: string; records: number; interval_end: number; block: number | null; tx: string | null }[];
  contracts: { anchors: string; consent: string; registry: string; access_log: string };
}

/** The newest blocks of the ledger and the newest anchors, refreshed on demand. */
function explorerCard(signal: AbortSignal): HTMLElement {
  const box = h("div");
  const load = () =>
    fill(box, async () => {
      const x = await get<Explorer>(`/chain/explorer${query({ limit: 10 })}`, signal);
      const blocks = table(
        [t("explorer.block"), t("records.time"), t("explorer.transactions"), t("explorer.hash")],
        x.blocks.map((b) => [String(b.number), dateTime(b.time), String(b.transactions), code(b.hash, 10)]),
        { "data-testid": "explorer-blocks" },
      );
      const anchors = x.anchors.length
        ? table(
            [t("explorer.root"), t("explorer.record_count"), t("records.time"), t("records.anchor")],
            x.anchors.map((a) => [
              code(a.root, 10),
              t("explorer.records", { n: a.records }),
              dateTime(a.interval_end),
              a.block === null ? t("records.anchor_pending") : [t("records.block", { n: a.block }), " ", code(a.tx ?? "", 10)],
            ]),
            { "data-testid": "explorer-anchors" },
          )
        : h("p", null, t("explorer.no_anchors"));
      return [
        h("h3", null, t("explorer.blocks")),
        blocks,
        h("h3", null, t("explorer.anchors")),
        anchors,
        h("p", { class: "muted" }, t("explorer.contract"), " ", code(x.contracts.anchors, 10)),
      ];
    });
  void load();
  return card(t("explorer.title"), h("p", null, t("explorer.intro")), actionButton(t("explorer.refresh"), load), box);
}
