// Drives Debian's Chromium (playwright-core, no browser download) through Relais's pages as a
// member and a referent would, saving a screenshot of each step in the artefacts folder.
// Usage: node pages.mjs onboarding URL USERNAME PASSWORD OUT_DIR [SHOT_PREFIX]
//        node pages.mjs signup BASE_URL FIRST_NAME LAST_NAME EMAIL POSTCODE OUT_DIR
//        node pages.mjs referent BASE_URL USER_ID PASSWORD CSV_FILE OUT_DIR
//        node pages.mjs letter BASE_URL USER_ID PASSWORD SECTION USERNAME NEW_PASSWORD OUT_DIR
//        node pages.mjs reset BASE_URL USER_ID PASSWORD MEMBER OUT_DIR
//        node pages.mjs vote LINK OUT_DIR
//        node pages.mjs preferences PREFERENCES_URL OUT_DIR
//        node pages.mjs widget BASE_URL OPENID_JSON OUT_DIR
//        node pages.mjs help BASE_URL OUT_DIR
//        node pages.mjs file HTML_FILE OUT_DIR SHOT_NAME
//        node pages.mjs url URL OUT_DIR SHOT_NAME
// Prints one JSON line with what the pages showed; exits non-zero on failure.
import { chromium } from "playwright-core";
import path from "node:path";

const [mode, ...args] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
// A phone-sized screen: members use their phones.
const page = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: "fr-FR" });
const shot = async (dir, name) => page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
// The page's content alone, for the help page's pictures (scripts/help-images.sh copies them
// into web/assets/aide/).
const figure = async (dir, name) => page.locator("main").screenshot({ path: path.join(dir, `aide-${name}.png`) });
// The referents' page's password sign-in, as a referent types it.
const signIn = async (base, user, password, out, name) => {
  await page.goto(`${base}/relais/referent`);
  if (name) await shot(out, name);
  await page.fill("#id", user);
  await page.fill("#mdp", password);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.waitForSelector("#fichier");
};
// The invitation page's form, filled and sent; waits for the answer.
const makeAccount = async (username, password) => {
  await page.fill("#nom", username);
  await page.fill("#mdp", password);
  await page.fill("#conf", password);
  const charter = page.getByLabel("J'accepte la charte.");
  if (await charter.count()) await charter.check();
  await page.getByRole("button", { name: "Créer mon compte" }).click();
  await page.waitForSelector("h1");
};

try {
  if (mode === "onboarding") {
    const [url, username, password, out, prefix = "onboarding"] = args;
    await page.goto(url);
    await shot(out, `${prefix}-1-form`);
    const title = await page.textContent("h1");
    await makeAccount(username, password);
    await shot(out, `${prefix}-2-done`);
    console.log(JSON.stringify({ title, result: await page.textContent("main") }));
  } else if (mode === "signup") {
    // A sympathiser on the public sign-up page: a first try without consent, told in French,
    // then the form completed as a person would.
    const [base, first, last, email, postcode, out] = args;
    await page.goto(`${base}/relais/rejoindre`);
    await shot(out, "signup-1-form");
    const charter = await page.textContent("#charte-texte");
    await page.getByLabel("Prénom", { exact: true }).fill(first);
    await page.getByLabel("Nom", { exact: true }).fill(last);
    await page.getByLabel("Adresse électronique").fill(email);
    await page.getByLabel("Code postal").fill(postcode);
    await page.getByLabel("aider aux campagnes").check();
    await page.getByLabel("J'accepte la charte.").check();
    await page.getByRole("button", { name: "M'inscrire" }).click();
    await page.waitForSelector("[role=alert]");
    await shot(out, "signup-2-refused");
    const refused = await page.textContent("[role=alert]");
    const kept = await page.getByLabel("Prénom", { exact: true }).inputValue();
    await page.getByLabel("J'accepte que le Parti").check();
    await page.getByRole("button", { name: "M'inscrire" }).click();
    await page.waitForSelector("[role=status]");
    await shot(out, "signup-3-sent");
    console.log(JSON.stringify({ charter, refused, kept, sent: await page.textContent("main") }));
  } else if (mode === "referent") {
    const [base, user, password, csv, out] = args;
    await signIn(base, user, password, out, "referent-1-login");
    await shot(out, "referent-2-dashboard");
    const dashboard = await page.textContent("h1");
    await page.setInputFiles("#fichier", csv);
    await page.getByRole("button", { name: "Voir ce qui changerait" }).click();
    await page.waitForSelector("h1");
    await shot(out, "referent-3-dry-run");
    const dryRun = await page.textContent("main");
    const confirm = page.getByLabel("Je confirme ces retraits");
    if (await confirm.count()) await confirm.check();
    await page.getByRole("button", { name: "Appliquer" }).click();
    await page.waitForSelector("#fichier");
    // The dashboard refreshes itself while the import runs.
    await page.waitForFunction(() => !document.body.innerText.includes("Import en cours"), null, { timeout: 60000 });
    await page.waitForSelector("text=appliqué", { timeout: 60000 });
    await shot(out, "referent-4-applied");
    console.log(JSON.stringify({ dashboard, dryRun, after: await page.textContent("main") }));
  } else if (mode === "letter") {
    // A referent prints their section's letters; the member, at home, types the letter's code
    // as they read it (lower case, spaces for dashes) and makes their account.
    const [base, user, password, section, username, newPassword, out] = args;
    await signIn(base, user, password);
    await page.getByRole("button", { name: `Lettres de la section ${section}` }).click();
    await page.waitForSelector(".code");
    const code = (await page.textContent(".code")).trim();
    await shot(out, "letter-1-screen");
    await page.emulateMedia({ media: "print" });
    await shot(out, "letter-2-printed");
    await page.pdf({ path: path.join(out, "letter.pdf"), format: "A4" });
    const letter = await page.textContent("body");
    await page.emulateMedia({ media: "screen" });
    await page.context().clearCookies();
    await page.goto(`${base}/inscription`);
    await page.fill("#code", code.toLowerCase().replaceAll("-", " "));
    await shot(out, "letter-3-code");
    await figure(out, "code");
    await page.getByRole("button", { name: "Continuer" }).click();
    await page.waitForSelector("#nom");
    await shot(out, "letter-4-invitation");
    await figure(out, "compte");
    const invitation = new URL(page.url()).pathname;
    await makeAccount(username, newPassword);
    await shot(out, "letter-5-done");
    console.log(JSON.stringify({ code, letter, invitation, result: await page.textContent("main") }));
  } else if (mode === "reset") {
    // A member forgot their password: the referent gives a provisional one from the page.
    const [base, user, password, member, out] = args;
    await signIn(base, user, password);
    await page.getByLabel("Identifiant Matrix ou numéro d'adhérent").fill(member);
    await shot(out, "reset-1-form");
    await page.getByRole("button", { name: "Donner un mot de passe provisoire" }).click();
    await page.waitForSelector("#provisoire");
    await shot(out, "reset-2-given");
    console.log(JSON.stringify({ password: await page.textContent("#provisoire"), text: await page.textContent("main") }));
  } else if (mode === "vote") {
    // An email-only member follows an answer's link from the poll's mail and confirms it.
    const [link, out] = args;
    await page.goto(link);
    await shot(out, "vote-1-link");
    await figure(out, "sondage-courriel");
    const chosen = await page.locator("input[name=choix]:checked").getAttribute("value");
    await page.getByRole("button", { name: "Confirmer ma réponse" }).click();
    await page.waitForSelector("h1");
    await shot(out, "vote-2-recorded");
    console.log(JSON.stringify({ chosen, text: await page.textContent("main") }));
  } else if (mode === "preferences") {
    const [url, out] = args;
    await page.goto(url);
    await shot(out, "preferences-1-lists");
    await figure(out, "courriels");
    const before = await page.textContent("main");
    // The first list: each message instead of the daily digest.
    await page.getByLabel("chaque message").first().check();
    await page.getByRole("button", { name: "Enregistrer" }).click();
    await page.waitForSelector("[role=status]");
    await shot(out, "preferences-2-saved");
    const saved = await page.textContent("[role=status]");
    const checked = await page.getByLabel("chaque message").first().isChecked();
    await page.getByRole("button", { name: "Ne plus rien recevoir" }).click();
    await page.waitForSelector("[role=status]");
    await shot(out, "preferences-3-nothing");
    const nothing = await page.textContent("[role=status]");
    const none = await page.getByLabel("rien").first().isChecked();
    console.log(JSON.stringify({ before, saved, checked, nothing, none }));
  } else if (mode === "widget") {
    // A stand-in for Element: a page on the same site embedding the widget and answering the
    // widget API the way Element does (capabilities, then OpenID once the member allows it).
    const [base, openid, out] = args;
    const host = `${base}/hote-element-pour-test`;
    const html = `<!doctype html><html><body><iframe id="w" style="width:380px;height:700px"
      src="${base}/relais/referent/widget?widgetId=relais-test"></iframe><script>
      window.seen = [];
      const creds = ${openid};
      const frame = document.getElementById("w");
      const send = (m) => frame.contentWindow.postMessage(m, "*");
      frame.addEventListener("load", () => send({ api: "toWidget", widgetId: "relais-test", requestId: "cap",
        action: "capabilities", data: {} }), { once: true });
      window.addEventListener("message", (event) => {
        const m = event.data;
        if (m.api !== "fromWidget") return;
        window.seen.push(m.action);
        if (m.action === "get_openid") {
          send(Object.assign({}, m, { response: { state: "request" } }));
          setTimeout(() => send({ api: "toWidget", widgetId: "relais-test", requestId: "creds",
            action: "openid_credentials", data: Object.assign({ state: "allowed", original_request_id: m.requestId }, creds) }), 200);
        }
      });
      </script></body></html>`;
    await page.route(host, (route) => route.fulfill({ contentType: "text/html", body: html }));
    await page.goto(host);
    const frame = page.frameLocator("#w");
    await frame.locator("h1", { hasText: "Fédération" }).waitFor({ timeout: 30000 });
    await shot(out, "widget-1-dashboard");
    const dashboard = await frame.locator("h1").textContent();
    const seen = await page.evaluate(() => window.seen);
    console.log(JSON.stringify({ dashboard, seen }));
  } else if (mode === "url") {
    const [url, out, name] = args;
    await page.goto(url);
    await shot(out, name);
    console.log(JSON.stringify({ title: await page.textContent("h1"), text: await page.textContent("main") }));
  } else if (mode === "file") {
    // A page saved by the test (e.g. printed letters, which take a signed-in POST), as printed.
    const [file, out, name] = args;
    await page.goto(`file://${file}`);
    await page.emulateMedia({ media: "print" });
    await shot(out, name);
    console.log(JSON.stringify({ text: await page.textContent("body") }));
  } else if (mode === "help") {
    // The pages Element's help, terms and privacy links open; the help's table of contents
    // leads to its sections.
    const [base, out] = args;
    const seen = {};
    for (const [name, pathname] of [["aide", "/aide"], ["conditions", "/conditions"], ["confidentialite", "/confidentialite"]]) {
      await page.goto(`${base}${pathname}`);
      await page.waitForLoadState("load");
      await shot(out, `help-${name}`);
      seen[name] = { title: await page.textContent("h1"), text: await page.textContent("main") };
    }
    await page.goto(`${base}/aide`);
    await page.getByRole("link", { name: "Mot de passe oublié" }).click();
    seen.anchor = new URL(page.url()).hash;
    // Every picture of the help page is served and drawn.
    seen.pictures = await page.$$eval("main img", (imgs) => imgs.map((i) => ({ src: i.getAttribute("src"), width: i.naturalWidth })));
    seen.anchorVisible = await page.locator("#mot-de-passe").isVisible();
    console.log(JSON.stringify(seen));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (error) {
  // What the page showed when it went wrong, for the test's failure message.
  const out = args[args.length - 1];
  await shot(out, `${mode}-error`).catch(() => {});
  console.error(`page at failure (${page.url()}):\n${await page.innerText("body").catch(() => "?")}`);
  throw error;
} finally {
  await browser.close();
}
