// The patient's devices: pair one (its token is shown once), pair a phone with a code
// or a QR code of the phone page, change a device's upload interval, revoke it.

import qrcode from "qrcode-generator";
import { del, get, patch, post } from "../api";
import { h, replace, svg } from "../dom";
import { Form, field, stopIfInvalid } from "../form";
import { ago, dateTime } from "../format";
import { t } from "../i18n";
import type { PageContext } from "../router";
import type { Device, PairAnswer, PairingCode } from "../types";
import { actionButton, card, code, fill, heading, notice, table } from "../ui";

const MAX_INTERVAL = 86_400;

/** A QR code of `text` as SVG, drawn from the module matrix (no markup strings). */
function qr(text: string): SVGElement {
  const q = qrcode(0, "M");
  q.addData(text);
  q.make();
  const n = q.getModuleCount();
  const margin = 4;
  const size = n + margin * 2;
  let d = "";
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (q.isDark(r, c)) d += `M${c + margin} ${r + margin}h1v1h-1z`;
    }
  }
  return svg(
    "svg",
    { viewBox: `0 0 ${size} ${size}`, class: "qr", role: "img", "aria-label": t("devices.qr_label"), "shape-rendering": "crispEdges" },
    svg("rect", { width: size, height: size, fill: "#fff" }),
    svg("path", { d, fill: "#000" }),
  );
}

function checkInterval(form: Form, name: string): number | undefined {
  const text = form.value(name);
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_INTERVAL) {
    form.error(name, t("error.invalid_interval"));
    return undefined;
  }
  return n;
}

export async function devices(ctx: PageContext): Promise<void> {
  const patient = ctx.account!.patient_id!;
  const base = `/patients/${patient}/devices`;
  const listBox = h("div");
  const reload = () =>
    fill(listBox, async () => {
      const answer = await get<{ devices: Device[] }>(base, ctx.signal);
      return deviceTable(answer.devices);
    });

  const deviceTable = (list: Device[]) => {
    if (!list.length) return h("p", null, t("devices.none"));
    return table(
      [t("devices.name"), t("devices.interval"), t("devices.last_seen"), t("devices.status"), ""],
      list.map((d) => {
        const interval = h("input", {
          type: "number",
          min: 1,
          max: MAX_INTERVAL,
          step: 1,
          value: d.upload_interval_s,
          name: "interval",
          "aria-label": t("devices.interval"),
          class: "short",
          disabled: Boolean(d.revoked_at),
        });
        return [
          h("span", { "data-device": d.id }, h("strong", null, d.name), h("br"), code(d.id, 6), d.public_key ? h("span", { class: "badge" }, t("devices.signed")) : null),
          d.revoked_at
            ? `${d.upload_interval_s} s`
            : h(
                "span",
                { class: "inline-form" },
                interval,
                " s ",
                actionButton(t("common.save"), async () => {
                  const n = Number(interval.value);
                  if (!Number.isInteger(n) || n < 1 || n > MAX_INTERVAL) throw new Error(t("error.invalid_interval"));
                  await patch(`${base}/${d.id}`, { upload_interval_s: n });
                  await reload();
                }, "small"),
              ),
          h("span", { title: dateTime(d.last_upload_at) }, d.last_upload_at ? ago(d.last_upload_at) : t("common.never")),
          d.revoked_at ? h("span", { class: "badge muted" }, t("devices.revoked", { when: dateTime(d.revoked_at) })) : h("span", { class: "badge ok" }, t("devices.active")),
          d.revoked_at
            ? ""
            : actionButton(t("devices.revoke"), async () => {
                if (!confirm(t("devices.revoke_confirm", { name: d.name }))) return;
                await del(`${base}/${d.id}`);
                await reload();
              }, "danger small"),
        ];
      }),
      { "data-testid": "device-table" },
    );
  };

  const issued = h("div");
  const pairForm = new Form(
    [
      field(t("devices.name"), h("input", { name: "name", required: true, maxlength: 100, placeholder: t("devices.name_example") })),
      field(t("devices.interval_s"), h("input", { name: "upload_interval_s", type: "number", min: 1, max: MAX_INTERVAL, step: 1, value: 60 })),
      field(t("devices.public_key"), h("input", { name: "public_key", autocomplete: "off", spellcheck: "false" }), t("devices.public_key_hint")),
    ],
    t("devices.pair"),
    async (f) => {
      f.require("name");
      const interval = checkInterval(f, "upload_interval_s");
      const key = f.value("public_key");
      if (key && !/^(0x)?[0-9a-fA-F]{64}$/.test(key)) f.error("public_key", t("error.invalid_public_key"));
      stopIfInvalid(f);
      const name = f.value("name");
      const answer = await post<PairAnswer>(base, { name, upload_interval_s: interval, public_key: key || undefined });
      pairForm.element.reset();
      replace(
        issued,
        notice(
          "ok",
          h("p", null, t("devices.paired", { name })),
          h("p", null, t("devices.token_once")),
          h("pre", { class: "secret", "data-testid": "device-token" }, answer.token),
          h("p", null, t("devices.token_use")),
          h("pre", { class: "example" }, `curl -X POST ${location.origin}/api/v1/readings \\\n  -H "Authorization: Bearer ${answer.token}" \\\n  -H "Content-Type: application/json" \\\n  -d '{"readings": [{"metric": "heart_rate", "t": ${Date.now()}, "value": 72}]}'`),
        ),
      );
      await reload();
    },
  );

  const phoneBox = h("div");
  const phoneName = h("input", { name: "phone_name", maxlength: 100, placeholder: t("devices.phone_name_example") });
  const phoneButton = actionButton(t("devices.get_code"), async () => {
    const answer = await post<PairingCode>(`/patients/${patient}/pairing-codes`, { name: phoneName.value.trim() || undefined });
    const page = `${location.origin}${answer.page}`;
    replace(
      phoneBox,
      h(
        "div",
        { class: "pairing" },
        qr(page),
        h(
          "div",
          null,
          h("p", null, t("devices.code_intro")),
          h("p", { class: "pairing-code", "data-testid": "pairing-code" }, answer.code),
          h("p", { class: "muted" }, t("devices.code_expires", { time: dateTime(answer.expires_at) })),
          h("p", null, t("devices.scan_or_open"), " ", h("a", { href: answer.page, target: "_blank", rel: "noopener" }, page)),
        ),
      ),
    );
  }, "primary");

  ctx.root.append(
    heading(t("nav.devices")),
    card(t("devices.yours"), listBox),
    h(
      "div",
      { class: "columns" },
      card(t("devices.pair_device"), h("p", null, t("devices.pair_intro")), pairForm.element, issued),
      card(t("devices.pair_phone"), h("p", null, t("devices.phone_intro")), field(t("devices.name"), phoneName), phoneButton, phoneBox),
    ),
  );
  await reload();
}
