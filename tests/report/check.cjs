// check.cjs REPORT.html EXPECT.json SCREENSHOT.png — open a kiln report in
// Debian's chromium (headless, network denied) and check what a reader
// would see: every chart rendered with marks, the expected items and
// charts present, a failed gate drawn as failed, no request leaving the
// page and no console error. Prints one line per finding; exit 1 if any.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require(path.join(process.env.KILN_TOP, "report/node_modules/playwright-core"));

const [html, expectFile, shot] = process.argv.slice(2);
const expect = JSON.parse(fs.readFileSync(expectFile, "utf8"));
const problems = [];

(async () => {
	const browser = await chromium.launch({
		executablePath: process.env.KILN_CHROMIUM || "/usr/bin/chromium",
		headless: true,
		// No route out: a proxy that is not there and a resolver that finds nothing.
		args: ["--no-sandbox", "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"],
	});
	const ctx = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
	const requests = [];
	ctx.on("request", (r) => {
		const u = r.url();
		if (!u.startsWith("file://") && !u.startsWith("data:") && !u.startsWith("blob:"))
			requests.push(u);
	});
	const page = await ctx.newPage();
	const errors = [];
	page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
	page.on("pageerror", (e) => errors.push(String(e)));
	await page.goto("file://" + path.resolve(html));
	await page.waitForSelector("body[data-rendered]", { timeout: 60000 });
	const seen = await page.evaluate(() => Array.from(document.querySelectorAll("section.item")).map((it) => ({
		section: it.closest("section.section").id,
		target: it.getAttribute("data-target"),
		status: it.getAttribute("data-status"),
		charts: Array.from(it.querySelectorAll(".chart")).map((c) => ({
			title: (c.querySelector(".role-title-text text") || {}).textContent || "",
			rendered: c.getAttribute("data-rendered") === "1",
			marks: c.querySelectorAll("g.role-mark > *").length,
			red: c.querySelectorAll('g.role-mark > [fill="#c62828"]').length,
		})),
		tables: it.querySelectorAll("table").length,
	})));
	const notBuilt = await page.evaluate(() => (document.getElementById("not-built") || {}).textContent || "");
	fs.mkdirSync(path.dirname(shot), { recursive: true });
	await page.screenshot({ path: shot, fullPage: true });
	// And one per section, for docs/report.md.
	for (const id of await page.evaluate(() => Array.from(document.querySelectorAll("section.section")).map((s) => s.id)))
		await page.locator("section#" + id).screenshot({ path: shot.replace(/\.png$/, "-" + id + ".png") });
	for (const s of expect.sections || []) {
		const shown = await page.$("section#" + s);
		if (!shown) problems.push("no section " + s);
	}
	for (const it of seen)
		for (const c of it.charts) {
			if (!c.rendered) problems.push(it.target + ": chart '" + c.title + "' did not render");
			else if (c.marks === 0) problems.push(it.target + ": chart '" + c.title + "' has no marks");
		}
	for (const want of expect.items || []) {
		const got = seen.find((i) => i.target === want.target && i.section === want.section);
		if (!got) { problems.push("no item " + want.target + " in " + want.section); continue; }
		if (want.status && got.status !== want.status)
			problems.push(want.target + ": status " + got.status + ", expected " + want.status);
		for (const title of want.charts || []) {
			const c = got.charts.find((x) => x.title === title);
			if (!c) problems.push(want.target + ": no chart '" + title + "' (has: " + got.charts.map((x) => x.title).join(", ") + ")");
			else if (!c.marks) problems.push(want.target + ": chart '" + title + "' is empty");
		}
		if (want.status === "failed" && !got.charts.some((c) => c.red > 0))
			problems.push(want.target + ": failed, but no mark is drawn red");
		if (want.status === "passed" && got.charts.some((c) => c.red > 0))
			problems.push(want.target + ": passed, but a mark is drawn red");
	}
	// A table sorts on a click on its column's header, numbers as numbers.
	for (const srt of expect.sort || []) {
		const got = await page.evaluate(async (w) => {
			const it = Array.from(document.querySelectorAll("section.item")).find((e) => e.getAttribute("data-target") === w.target);
			if (!it) return "no item";
			const th = Array.from(it.querySelectorAll("th")).find((h) => h.textContent === w.column);
			if (!th) return "no column";
			const col = Array.prototype.indexOf.call(th.parentNode.children, th);
			th.click();
			const vals = Array.from(th.closest("table").tBodies[0].rows).map((r) => r.cells[col].getAttribute("data-value"))
				.filter((v) => v !== "").map(Number);
			for (let i = 1; i < vals.length; i++) if (vals[i - 1] > vals[i]) return "not ascending: " + vals.join(",");
			return vals.length ? "ok" : "empty";
		}, srt);
		if (got !== "ok") problems.push(srt.target + ": sorting by " + srt.column + ": " + got);
	}
	for (const t of expect.not_built || [])
		if (!notBuilt.includes(t)) problems.push("the page does not say " + t + " was not built");
	for (const r of requests) problems.push("request to the network: " + r);
	for (const e of errors) problems.push("console error: " + e);
	const charts = seen.reduce((n, i) => n + i.charts.length, 0);
	const marks = seen.reduce((n, i) => n + i.charts.reduce((m, c) => m + c.marks, 0), 0);
	console.log("report: " + seen.length + " items, " + charts + " charts, " + marks + " marks");
	await browser.close();
	for (const p of problems) console.log("PROBLEM: " + p);
	process.exit(problems.length ? 1 : 0);
})().catch((e) => { console.log("PROBLEM: " + e); process.exit(1); });
