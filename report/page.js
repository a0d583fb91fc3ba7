/*
 * kiln report: draws the document kiln wrote into #kiln-report. Every
 * string from the build is set as text, never as markup; charts are
 * Vega-Lite specs rendered as SVG by vega-embed, from data in the page.
 * When every chart has rendered (or failed), <body data-rendered> is set
 * to the count, for the browser test.
 */
(function () {
	"use strict";
	var doc = JSON.parse(document.getElementById("kiln-report").textContent);
	var main = document.getElementById("main");
	var pending = 0, drawn = 0, failed = 0;

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}

	function fmt(v) {
		if (v === null || v === undefined) return "";
		if (typeof v === "number") {
			if (Number.isInteger(v)) return String(v);
			return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toPrecision(4) : String(+v.toPrecision(4));
		}
		if (typeof v === "boolean") return v ? "yes" : "no";
		if (typeof v === "object") return JSON.stringify(v);
		return String(v);
	}

	function finished() {
		if (drawn + failed === pending)
			document.body.setAttribute("data-rendered", String(drawn));
	}

	function drawChart(parent, spec) {
		var box = el("div", "chart");
		parent.appendChild(box);
		pending++;
		vegaEmbed(box, spec, { renderer: "svg", actions: false }).then(function () {
			box.setAttribute("data-rendered", "1");
			drawn++;
			finished();
		}).catch(function (err) {
			box.classList.add("error");
			box.textContent = "this chart could not be drawn: " + err;
			console.error("kiln report:", err);
			failed++;
			finished();
		});
	}

	/* A table whose columns sort on a click: numbers as numbers. */
	function drawTable(parent, t) {
		var table = el("table"), head = el("tr"), body = el("tbody");
		var passedCol = t.columns.indexOf("passed");
		table.appendChild(el("caption", null, t.title));
		t.columns.forEach(function (c, i) {
			var th = el("th", null, c);
			th.setAttribute("scope", "col");
			th.addEventListener("click", function () { sortBy(table, body, i, th); });
			head.appendChild(th);
		});
		var thead = el("thead");
		thead.appendChild(head);
		table.appendChild(thead);
		t.rows.forEach(function (r) {
			var tr = el("tr");
			if (passedCol >= 0 && r[passedCol] === false) tr.className = "failed";
			r.forEach(function (v) {
				var td = el("td", null, fmt(v));
				td.setAttribute("data-value", typeof v === "number" ? String(v) : fmt(v));
				tr.appendChild(td);
			});
			body.appendChild(tr);
		});
		table.appendChild(body);
		parent.appendChild(table);
	}

	function sortBy(table, body, col, th) {
		var asc = th.getAttribute("aria-sort") !== "ascending";
		table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
		th.setAttribute("aria-sort", asc ? "ascending" : "descending");
		var rows = Array.prototype.slice.call(body.rows);
		rows.sort(function (a, b) {
			var x = a.cells[col].getAttribute("data-value"), y = b.cells[col].getAttribute("data-value");
			var nx = parseFloat(x), ny = parseFloat(y), c;
			if (!isNaN(nx) && !isNaN(ny) && String(nx) === x && String(ny) === y) c = nx - ny;
			else c = x < y ? -1 : x > y ? 1 : 0;
			return asc ? c : -c;
		});
		rows.forEach(function (r) { body.appendChild(r); });
	}

	function drawItem(parent, it) {
		var h = el("h3");
		h.appendChild(el("span", null, it.target));
		h.appendChild(el("span", "badge " + it.status, it.status));
		if (it.file) h.appendChild(el("span", "where", it.file + (it.line ? ":" + it.line : "")));
		var box = el("section", "item");
		box.setAttribute("data-target", it.target);
		box.setAttribute("data-kind", it.kind);
		box.setAttribute("data-status", it.status);
		box.appendChild(h);
		if (it.notes && it.notes.length) {
			var ul = el("ul", "notes");
			it.notes.forEach(function (n) { ul.appendChild(el("li", null, n)); });
			box.appendChild(ul);
		}
		var charts = el("div", "charts");
		box.appendChild(charts);
		(it.charts || []).forEach(function (c) { drawChart(charts, c); });
		var tables = el("div", "tables");
		box.appendChild(tables);
		(it.tables || []).forEach(function (t) { drawTable(tables, t); });
		parent.appendChild(box);
	}

	main.appendChild(el("h1", null, "kiln report"));
	main.appendChild(el("div", "muted", doc.workspace));
	var nav = el("nav");
	main.appendChild(nav);
	if (doc.not_built && doc.not_built.length) {
		var m = el("div", "missing");
		m.setAttribute("id", "not-built");
		m.appendChild(el("strong", null, "Not shown: "));
		m.appendChild(document.createTextNode(doc.not_built.map(function (t) {
			return t.target + " (" + t.plugin + ", " + t.why + ")";
		}).join("; ")));
		m.appendChild(document.createTextNode(". Build them with kiln build, then run kiln report again."));
		main.appendChild(m);
	}
	doc.sections.forEach(function (s) {
		var sec = el("section", "section");
		sec.setAttribute("id", s.id);
		sec.appendChild(el("h2", null, s.title));
		if (!s.items.length)
			sec.appendChild(el("p", "empty", "Nothing recorded for this section."));
		s.items.forEach(function (it) { drawItem(sec, it); });
		main.appendChild(sec);
		var a = el("a", null, s.title + " (" + s.items.length + ")");
		a.setAttribute("href", "#" + s.id);
		nav.appendChild(a);
	});
	if (pending === 0) document.body.setAttribute("data-rendered", "0");
})();
