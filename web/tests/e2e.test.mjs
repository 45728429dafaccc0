// End-to-end test of the web interface: the real `vitalis serve`, Debian's Chromium
// driven by playwright-core. A patient signs up and pairs devices (a watch by token, a
// phone by code), readings arrive and the live dashboard updates without a reload, the
// history verifies from the Verify button, the patient grants a hospital, which then
// sees protected data while an enterprise account cannot; the patient revokes and the
// hospital is refused; the access log lists the hospital's reads. Every page is checked
// for console errors and for fitting a phone's width, and photographed into
// target/web-screenshots/.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, api, chromiumPresent, fitsWidth, screenshotsDir, startServer, watchConsole } from "./support.mjs";

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const PASSWORD = "correct horse battery staple";
const REFUSED = /status of 40[13]/;

let server;
let browser;
const consoles = [];
const shots = screenshotsDir();

async function newPage(viewport) {
  const context = await browser.newContext({ viewport, locale: "en-GB" });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("dialog", (d) => void d.accept());
  const watch = watchConsole(page);
  consoles.push(watch);
  return { page, watch };
}

/** Checks the page a user would see: it fits the screen and logged no error. */
async function shoot(page, watch, name) {
  await page.waitForLoadState("networkidle");
  assert.ok(await fitsWidth(page), `${name}: wider than the ${page.viewportSize().width}px screen`);
  assert.deepEqual(watch.errors, [], `${name}: console errors`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const size = page.viewportSize();
  if (size.width > PHONE.width) {
    // Pages shown on a desktop must work on a phone too.
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(300);
    assert.ok(await fitsWidth(page), `${name}: wider than a phone's screen`);
    await page.screenshot({ path: join(shots, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize(size);
  }
}

const skip = !chromiumPresent() && `SKIPPED: no Chromium at ${CHROMIUM} (install Debian's chromium)`;
if (skip) console.log(skip);

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const index = await (await fetch(server.url)).text();
  assert.match(index, /\/assets\/app-[A-Z0-9]+\.js/, "the binary serves the built interface (run npm run build:web before building it)");
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the patient, the hospital, the enterprise and the supervisor in the browser", { skip, timeout: 300_000 }, async (t) => {
  const base = server.url;
  const stamp = Date.now();
  const email = `amira.${stamp}@example.org`;
  const { page, watch } = await newPage(PHONE);
  let patientId;
  let deviceToken;
  let phoneToken;

  await t.test("sign-up shows field errors, then the recovery key once", async () => {
    await page.goto(base);
    await page.waitForURL(/\/app\/signin$/);
    await shoot(page, watch, "01-sign-in");
    await page.click("text=Create an account");
    await page.fill('input[name="name"]', "Amira Haddad");
    await page.fill('input[name="email"]', "not-an-email");
    await page.fill('input[name="password"]', "short");
    await page.click('button[type="submit"]');
    await assert.doesNotReject(page.locator('[data-error-for="email"]:not([hidden])').waitFor());
    assert.match(await page.textContent('[data-error-for="email"]'), /email address/);
    assert.match(await page.textContent('[data-error-for="password"]'), /at least 12 characters/);
    await shoot(page, watch, "02-sign-up-errors");
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    const key = await page.textContent('[data-testid="recovery-key"]');
    assert.match(key.trim(), /^([0-9a-f]{8}-){7}[0-9a-f]{8}$/);
    await shoot(page, watch, "03-recovery-key");
    assert.ok(await page.isDisabled("text=Continue"), "continuing needs the key stored");
    await page.check('input[name="stored"]');
    await page.click("text=Continue");
    await page.waitForURL(/\/app\/dashboard$/);
  });

  await t.test("sign-out, a wrong password, sign-in", async () => {
    await page.click('[data-testid="sign-out"]');
    await page.waitForURL(/\/app\/signin$/);
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', "wrong password here");
    await watch.allow(REFUSED, async () => {
      await page.click('button[type="submit"]');
      await page.locator(".form-error:not([hidden])").waitFor();
    });
    assert.match(await page.textContent(".form-error"), /Wrong email or password/);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/app\/dashboard$/);
    patientId = await page.evaluate(async () => (await (await fetch("/api/v1/auth/session")).json()).account.patient_id);
    assert.match(patientId, /.+/);
  });

  await t.test("pairing a watch by token and a phone by code", async () => {
    await page.click('nav >> text=Devices');
    await page.waitForURL(/\/app\/devices$/);
    await page.fill('input[name="upload_interval_s"]', "0");
    await page.click('button[type="submit"]:text-is("Pair")');
    assert.match(await page.textContent('[data-error-for="name"]'), /Required/);
    assert.match(await page.textContent('[data-error-for="upload_interval_s"]'), /1 to 86400/);
    await page.fill('input[name="name"]', "Wrist watch");
    await page.fill('input[name="upload_interval_s"]', "5");
    await page.click('button[type="submit"]:text-is("Pair")');
    deviceToken = (await page.textContent('[data-testid="device-token"]')).trim();
    assert.match(deviceToken, /^vtd_/);
    assert.match(await page.textContent(".notice.ok"), /Wrist watch is paired/);
    assert.equal(await page.inputValue('form input[name="upload_interval_s"]'), "60", "the form is ready for the next device");
    await page.locator('[data-testid="device-table"] >> text=Wrist watch').waitFor();

    await page.fill('input[name="phone_name"]', "Pocket phone");
    await page.click("text=Get a pairing code");
    const code = (await page.textContent('[data-testid="pairing-code"]')).trim();
    assert.match(code, /^\d{8}$/);
    assert.equal(await page.locator("svg.qr path").count(), 1);
    await shoot(page, watch, "04-devices");

    // The phone page (served by the same binary) trades the code for its own token.
    const phone = await newPage(PHONE);
    await phone.page.goto(`${base}/phone`);
    await phone.page.fill("#code", code);
    await phone.page.click("text=Pair this phone");
    await phone.page.locator("#steps").waitFor();
    await phone.page.fill("#steps", "1200");
    await phone.page.click("text=Send");
    await phone.page.locator("text=1 reading stored").waitFor();
    phoneToken = await phone.page.evaluate(() => localStorage.getItem("vitalis.phone.token"));
    await phone.page.context().close();
    await page.reload();
    const phoneRow = page.locator('[data-testid="device-table"] tr', { hasText: "Pocket phone" });
    await phoneRow.waitFor();
    await phoneRow.locator('input[name="interval"]').fill("30");
    await phoneRow.locator('button:has-text("Save")').click();
    await page.waitForLoadState("networkidle");
    assert.equal(await page.locator('[data-testid="device-table"] tr', { hasText: "Pocket phone" }).locator('input[name="interval"]').inputValue(), "30");
    await page.locator('[data-testid="device-table"] tr', { hasText: "Pocket phone" }).locator('button:has-text("Revoke")').click();
    await page.locator('[data-testid="device-table"] tr', { hasText: "Pocket phone" }).locator("text=Revoked").waitFor();
    const refused = await fetch(`${base}/api/v1/readings`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${phoneToken}` },
      body: JSON.stringify({ readings: [{ metric: "steps", t: Date.now(), value: 1 }] }),
    });
    assert.equal(refused.status, 401, "a revoked device cannot upload");
  });

  await t.test("the dashboard updates live as readings arrive", async () => {
    await page.click('nav >> text=Dashboard');
    await page.waitForURL(/\/app\/dashboard$/);
    await page.locator('[data-testid="live-status"][data-state="open"]').waitFor();
    await page.locator('[data-testid="tile-steps-value"]:has-text("1,200")').waitFor();
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const hr = page.locator('.chart[data-metric="heart_rate"]');
    const before = Number(await hr.getAttribute("data-points"));
    const now = Date.now();
    await api(base, "POST", "/readings", {
      readings: [
        { metric: "heart_rate", t: now - 2000, value: 71 },
        { metric: "heart_rate", t: now - 1000, value: 74 },
        { metric: "spo2", t: now - 1000, value: 97 },
        { metric: "blood_pressure_systolic", t: now - 1000, value: 121 },
        { metric: "blood_pressure_diastolic", t: now - 1000, value: 79 },
        { metric: "body_temperature", t: now - 1000, value: 36.8 },
        { metric: "steps", t: now - 1000, value: 300 },
      ],
    }, deviceToken);
    await page.locator('[data-testid="tile-heart_rate-value"]:has-text("74")').waitFor();
    await page.locator('[data-testid="tile-steps-value"]:has-text("1,500")').waitFor();
    assert.equal(await page.textContent('[data-testid="tile-spo2-value"]'), "97");
    assert.equal(await page.textContent('[data-testid="tile-blood_pressure-value"]'), "121/79");
    assert.equal(await page.textContent('[data-testid="tile-body_temperature-value"]'), "36.8");
    assert.equal(Number(await hr.getAttribute("data-points")), before + 2);
    assert.equal(await hr.getAttribute("data-last"), "74");
    assert.match(await page.textContent('[data-device] .last-upload'), /last upload/);

    await api(base, "POST", "/readings", { readings: [{ metric: "heart_rate", t: Date.now(), value: 88 }] }, deviceToken);
    await page.locator('.chart[data-metric="heart_rate"][data-last="88"]').waitFor();
    assert.equal(await page.textContent('[data-testid="tile-heart_rate-value"]'), "88");
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload happened");
    await shoot(page, watch, "05-dashboard");
  });

  await t.test("records list their chain and verify from the button", async () => {
    await page.click('nav >> text=Records');
    await page.waitForURL(/\/app\/records$/);
    await page.locator('[data-testid="records-table"]').waitFor();
    assert.ok((await page.locator("[data-seq]").count()) >= 3);
    assert.match(await page.textContent('[data-testid="records-table"]'), /bafkrei/);
    // Anchoring runs every block (1 s): verify until the records are anchored.
    let anchored = 0;
    for (let i = 0; i < 30 && anchored === 0; i++) {
      await page.click('button:has-text("Verify")');
      const result = page.locator('[data-testid="verify-result"]');
      await result.waitFor();
      assert.equal(await result.getAttribute("data-ok"), "true", await result.textContent());
      anchored = Number(await result.getAttribute("data-anchored"));
      if (!anchored) await page.waitForTimeout(1000);
    }
    assert.ok(anchored > 0, "records were anchored");
    for (const step of ["sequence", "link", "payload_cid", "payload_hash", "commitment", "proof", "on_chain_root"]) {
      assert.equal(await page.getAttribute(`[data-step="${step}"]`, "data-passed"), "true", step);
      assert.match(await page.textContent(`[data-step="${step}"]`), /Passed/, step);
    }
    await shoot(page, watch, "06-records-verified");
    await page.reload();
    await page.locator("[data-block]").first().waitFor();
    // The explorer lists the newest blocks and at least one mined anchor.
    await page.locator('[data-testid="explorer-blocks"] tbody tr').first().waitFor();
    const anchorRows = page.locator('[data-testid="explorer-anchors"] tbody tr', { hasText: "block" });
    await anchorRows.first().waitFor();
    assert.match(await anchorRows.first().textContent(), /0x[0-9a-f]/);
    await shoot(page, watch, "07-records");
  });

  // Institutions sign up through the API; the supervisor approves them in the browser.
  const hospitalEmail = `clinic.${stamp}@example.org`;
  const enterpriseEmail = `insurer.${stamp}@example.org`;
  await api(base, "POST", "/auth/signup", { role: "hospital", email: hospitalEmail, password: PASSWORD, name: "Dr. Chen", institution_name: "Riverside Clinic" });
  await api(base, "POST", "/auth/signup", { role: "enterprise", email: enterpriseEmail, password: PASSWORD, name: "Analyst", institution_name: "Acme Insurance" });
  const researcherEmail = `study.${stamp}@example.org`;
  await api(base, "POST", "/auth/signup", { role: "researcher", email: researcherEmail, password: PASSWORD, name: "Prof. Okafor", institution_name: "Lakeside University" });

  const signIn = async (p, who, password) => {
    await p.goto(`${base}/app/signin`);
    await p.fill('input[name="email"]', who);
    await p.fill('input[name="password"]', password);
    await p.click('button[type="submit"]');
  };

  await t.test("the supervisor approves the institutions", async () => {
    const sup = await newPage(DESKTOP);
    await signIn(sup.page, server.supervisor.email, server.supervisor.password);
    await sup.page.waitForURL(/\/app\/institutions$/);
    for (const name of ["Riverside Clinic", "Acme Insurance", "Lakeside University"]) {
      const row = sup.page.locator("tr", { hasText: name });
      await row.locator('button:has-text("Approve")').click();
      await row.locator('[data-status="active"]').waitFor();
    }
    // The attribute authority issues the clinic's accounts a department.
    await sup.page.selectOption('select[name="institution"]', { label: "Riverside Clinic" });
    await sup.page.fill('input[name="attributes"]', "dept:cardiology");
    await sup.page.click('button:has-text("Issue keys")');
    const outcome = sup.page.locator('.notice.ok:has-text("Issued to"), .form-error:not([hidden]), .field-error:not([hidden])').first();
    await outcome.waitFor();
    assert.match(await outcome.textContent(), /Issued to \d+ accounts/);
    await shoot(sup.page, sup.watch, "08-supervisor-institutions");
    await sup.page.context().close();
  });

  await t.test("the patient grants the hospital both sections", async () => {
    await page.click('nav >> text=Sharing');
    await page.waitForURL(/\/app\/sharing$/);
    await page.click('button:has-text("Grant")');
    assert.match(await page.textContent('[data-error-for="institution_id"]'), /Required/);
    assert.match(await page.textContent('[data-error-for="purpose"]'), /Required/);
    const hospitalOption = await page.locator('select[name="institution_id"] option', { hasText: "Riverside Clinic" }).getAttribute("value");
    await page.selectOption('select[name="institution_id"]', hospitalOption);
    await page.check('input[name="access"][value="write"]');
    await page.check('input[name="sections"][value="protected"]');
    await page.fill('input[name="purpose"]', "cardiology follow-up");
    await page.click('button:has-text("Grant")');
    await page.locator('[data-testid="grants"] [data-status="active"]').waitFor();
    assert.match(await page.textContent('[data-testid="grants"]'), /Riverside Clinic/);
    await shoot(page, watch, "09-sharing");
  });

  const hospital = await newPage(DESKTOP);
  await t.test("the hospital sees the protected data and records a check-up", async () => {
    await signIn(hospital.page, hospitalEmail, PASSWORD);
    await hospital.page.waitForURL(/\/app\/patients$/);
    await shoot(hospital.page, hospital.watch, "10-hospital-patients");
    await hospital.page.click(`[data-patient="${patientId}"]`);
    // The day's chart shows minute means of the readings 71, 74 and 88.
    const hr = hospital.page.locator('.chart[data-metric="heart_rate"]');
    await hospital.page.locator('.chart[data-metric="heart_rate"]:not([data-points="0"])').waitFor();
    const last = Number(await hr.getAttribute("data-last"));
    assert.ok(last >= 71 && last <= 88, `heart rate ${last}`);
    await hospital.page.locator('.chart[data-metric="blood_pressure_systolic blood_pressure_diastolic"]:not([data-points="0"])').waitFor();
    await hospital.page.fill('input[name="blood_pressure_systolic"]', "400");
    await hospital.page.click('button:has-text("Record the check-up")');
    assert.match(await hospital.page.textContent('[data-error-for="blood_pressure_systolic"]'), /40 to 300/);
    await hospital.page.fill('input[name="blood_pressure_systolic"]', "132");
    await hospital.page.fill('input[name="blood_pressure_diastolic"]', "84");
    await hospital.page.fill('input[name="loinc_0"]', "2345-7");
    await hospital.page.fill('input[name="display_0"]', "Glucose");
    await hospital.page.fill('input[name="value_0"]', "95");
    await hospital.page.fill('input[name="unit_0"]', "mg/dL");
    await hospital.page.fill('textarea[name="note"]', "Routine check-up");
    await hospital.page.click('button:has-text("Record the check-up")');
    await hospital.page.locator('[data-testid="clinical-notes"]', { hasText: "Routine check-up" }).or(hospital.page.locator(".form-error:not([hidden])")).waitFor();
    assert.equal(await hospital.page.locator(".form-error:not([hidden])").count(), 0, await hospital.page.locator("form").last().textContent());
    await shoot(hospital.page, hospital.watch, "11-hospital-patient");
  });

  await t.test("an enterprise account cannot read the protected data", async () => {
    const ent = await newPage(DESKTOP);
    await signIn(ent.page, enterpriseEmail, PASSWORD);
    await ent.page.waitForURL(/\/app\/aggregates$/);
    await ent.page.click('button:has-text("Show")');
    await ent.page.locator('[data-testid="aggregate-result"] >> text=Patients who granted access: 0').waitFor();
    await shoot(ent.page, ent.watch, "12-enterprise-aggregates");
    await ent.watch.allow(REFUSED, async () => {
      await ent.page.goto(`${base}/app/patients/${patientId}`);
      const hrCard = ent.page.locator(".chart-card", { has: ent.page.locator('.chart[data-metric="heart_rate"]') });
      await hrCard.locator(".notice.error").waitFor();
      assert.match(await hrCard.locator(".notice.error").getAttribute("data-code"), /^(not_permitted|no_consent)$/);
      assert.equal(await ent.page.getAttribute('.chart[data-metric="heart_rate"]', "data-points"), "0");
      const status = await ent.page.evaluate(
        async (p) => (await fetch(`/api/v1/patients/${p}/readings?metric=heart_rate`)).status,
        patientId,
      );
      assert.equal(status, 403);
      await ent.page.waitForLoadState("networkidle");
    });
    await ent.page.context().close();
  });

  await t.test("after the patient revokes, the hospital is refused", async () => {
    await page.locator('[data-testid="grants"] tr', { hasText: "Riverside Clinic" }).locator('button:has-text("Revoke")').click();
    await page.locator('[data-testid="grants"] [data-status="revoked"]').waitFor();
    await hospital.watch.allow(REFUSED, async () => {
      await hospital.page.reload();
      const hrCard = hospital.page.locator(".chart-card", { has: hospital.page.locator('.chart[data-metric="heart_rate"]') });
      await hrCard.locator(".notice.error").waitFor();
      assert.equal(await hrCard.locator(".notice.error").getAttribute("data-code"), "consent_revoked");
      assert.equal(await hospital.page.getAttribute('.chart[data-metric="heart_rate"]', "data-points"), "0");
      await hospital.page.waitForLoadState("networkidle");
      await hospital.page.screenshot({ path: join(shots, "13-hospital-refused.png"), fullPage: true });
    });
  });

  await t.test("the access log lists the hospital's reads", async () => {
    await page.reload();
    const log = page.locator('[data-testid="access-log"]');
    await log.waitFor();
    const rows = log.locator("tbody tr", { hasText: "Riverside Clinic" });
    assert.ok((await rows.count()) >= 2, "the hospital's reads are logged");
    assert.match(await rows.first().textContent(), /read (protected|open) data/);
    // By default only others' reads are listed; the patient's own come back on request.
    const others = await log.locator("tbody tr").count();
    assert.equal(await log.locator("tbody tr", { hasText: "Riverside Clinic" }).count(), others);
    await page.uncheck('[data-testid="log-others-only"]');
    assert.ok((await page.locator('[data-testid="access-log"] tbody tr').count()) > others);
    await page.check('[data-testid="log-others-only"]');
    await shoot(page, watch, "14-access-log");
  });

  await t.test("history, analysis, settings and the language", async () => {
    await page.click('nav >> text=History');
    await page.waitForURL(/\/app\/history$/);
    await page.locator('.chart[data-metric="heart_rate"]:not([data-points="0"])').waitFor();
    await page.locator('[data-testid="narrative"]').waitFor();
    // Dragging across a chart loads the span selected, for every chart.
    const over = page.locator('.chart[data-metric="heart_rate"] .u-over');
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.locator('[data-testid="zoom-reset"]:not([hidden])').waitFor();
    assert.match(await page.textContent('[data-testid="range-label"]'), /:/, "a zoomed range shows times");
    await page.click('[data-testid="zoom-reset"]');
    await page.locator('[data-testid="zoom-reset"][hidden]').waitFor({ state: "attached" });
    await page.click('button[data-span="week"]');
    await page.locator('[data-testid="range-label"]:has-text("–")').waitFor();
    await shoot(page, watch, "15-history");

    await page.click('nav >> text=Settings');
    await page.waitForURL(/\/app\/settings$/);
    await page.fill('input[name="birth_year"]', "1850");
    await page.click('button:has-text("Save") >> nth=0');
    assert.match(await page.textContent('[data-error-for="birth_year"]'), /1900/);
    await page.fill('input[name="birth_year"]', "1988");
    await page.click('button:has-text("Save") >> nth=0');
    await page.locator(".notice.ok >> text=Saved.").first().waitFor();
    await page.selectOption('select[name="kind"]', "above");
    await page.fill('input[name="threshold"]', "150");
    await page.click('button:has-text("Add a rule") >> nth=-1');
    await page.locator('[data-testid="alert-rules"] >> text=Heart rate above 150').waitFor();
    // An alert fired by an upload arrives on the dashboard live, and can be acknowledged.
    await page.click("nav >> text=Dashboard");
    await page.locator('[data-testid="live-status"][data-state="open"]').waitFor();
    await api(base, "POST", "/readings", { readings: [{ metric: "heart_rate", t: Date.now(), value: 162 }] }, deviceToken);
    const alert = page.locator('[data-testid="dashboard-alerts"] [data-alert]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /Above threshold/);
    await alert.locator('button:has-text("Acknowledge")').click();
    await page.locator('[data-testid="dashboard-alerts"] >> text=No open alerts.').waitFor();
    await page.click("nav >> text=Settings");
    await page.locator('[data-testid="alert-rules"]').waitFor();
    // Protected records are sealed; a malformed access policy is refused under its field,
    // with the column of the fault.
    await page.locator('[data-testid="sealing-status"]').waitFor();
    await page.locator(".notice.ok >> text=Your protected records are encrypted.").waitFor();
    await watch.allow(/status of 400/, async () => {
      await page.fill('input[name="policy"]', "role:hospital AND (");
      await page.click('button:has-text("Save policy")');
      await page.locator('[data-error-for="policy"]:not([hidden])').waitFor();
      assert.match(await page.textContent('[data-error-for="policy"]'), /column/);
    });
    await page.fill('input[name="policy"]', "");
    await page.click('button:has-text("Prepare the download")');
    const href = await page.getAttribute('[data-testid="export-link"]', "href");
    const csv = await page.evaluate(async (u) => (await fetch(u)).text(), href);
    assert.match(csv, /^time_utc,metric,value,unit/, href);
    assert.match(csv, /heart_rate,88/, `${href}\n${csv}`);
    await shoot(page, watch, "16-settings");

    await page.selectOption('[data-testid="language"]', "zh-CN");
    await page.locator("nav >> text=概览").waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    await shoot(page, watch, "17-settings-zh-CN");
    await page.click("nav >> text=概览");
    await page.locator('[data-testid="live-status"][data-state="open"]').waitFor();
    await shoot(page, watch, "18-dashboard-zh-CN");
    await page.selectOption('[data-testid="language"]', "en");
  });

  await t.test("the supervisor's audit log", async () => {
    const sup = await newPage(DESKTOP);
    await signIn(sup.page, server.supervisor.email, server.supervisor.password);
    await sup.page.waitForURL(/\/app\/institutions$/);
    await sup.page.click("nav >> text=Audit log");
    await sup.page.locator('[data-testid="access-log"] >> text=Riverside Clinic').first().waitFor();
    await shoot(sup.page, sup.watch, "19-audit-log");
    await sup.page.context().close();
  });

  await t.test("a researcher asks for a dataset and the patient accepts", async () => {
    const study = await newPage(DESKTOP);
    await signIn(study.page, researcherEmail, PASSWORD);
    await study.page.click("nav >> text=Dataset requests");
    await study.page.waitForURL(/\/app\/requests$/);
    await study.page.click('button:has-text("Send the request")');
    assert.match(await study.page.textContent('[data-error-for="title"]'), /.+/, "a title is required");
    await study.page.fill('input[name="title"]', "Sleep and heart rate");
    await study.page.fill('textarea[name="purpose"]', "A cohort study of resting heart rate.");
    await study.page.check('input[name="metrics"][value="heart_rate"]');
    await study.page.click('button:has-text("Send the request")');
    await study.page.locator('[data-testid="dataset-requests"] >> text=Sleep and heart rate').waitFor();
    await shoot(study.page, study.watch, "20-researcher-requests");

    await page.click("nav >> text=Sharing");
    await page.waitForURL(/\/app\/sharing$/);
    const row = page.locator('[data-testid="research-requests"] tr', { hasText: "Sleep and heart rate" });
    await row.locator('button:has-text("Accept")').click();
    await row.locator('[data-answer="accepted"]').waitFor();
    await page.locator('[data-testid="grants"] >> text=Lakeside University').waitFor();
    await shoot(page, watch, "21-sharing-research-request");

    await study.page.reload();
    const mine = study.page.locator('[data-testid="dataset-requests"] tr', { hasText: "Sleep and heart rate" });
    await mine.waitFor();
    assert.deepEqual((await mine.locator("td").allTextContents()).slice(-2), ["1", "0"]);
    await study.page.context().close();
  });

  await t.test("the patient deletes the account", async () => {
    await page.click("nav >> text=Settings");
    await page.waitForURL(/\/app\/settings$/);
    const form = page.locator("form", { has: page.locator('button:has-text("Delete my account")') });
    await form.locator('button:has-text("Delete my account")').click();
    assert.match(await form.locator('[data-error-for="password"]').textContent(), /.+/, "a password is required");
    await watch.allow(REFUSED, async () => {
      await form.locator('input[name="password"]').fill("not my password at all");
      await form.locator('button:has-text("Delete my account")').click();
      await form.locator('[data-error-for="password"]:not([hidden])').waitFor();
      assert.match(await form.locator('[data-error-for="password"]').textContent(), /password/i);
    });
    await form.locator('input[name="password"]').fill(PASSWORD);
    await form.locator('button:has-text("Delete my account")').click();
    await page.waitForURL(/\/app\/signin\?deleted=1$/);
    await page.locator('[data-testid="account-deleted"]').waitFor();
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', PASSWORD);
    await watch.allow(REFUSED, async () => {
      await page.click('button[type="submit"]');
      await page.locator(".form-error:not([hidden])").waitFor();
    });
    assert.match(await page.textContent(".form-error"), /Wrong email or password/);
  });

  for (const w of consoles) assert.deepEqual(w.errors, [], "console errors");
});
