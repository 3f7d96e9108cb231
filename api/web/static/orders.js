// The order form's enhancements: a live total per mall, a preview of pasted recipients,
// rows added and removed, the recipients or the consignee shown for the delivery chosen.
// The form works without it (the server parses, totals and checks everything again).
"use strict";
(function () {
  var form = document.getElementById("order-form");
  if (!form) return;
  document.documentElement.classList.add("js");

  function yuan(fen) {
    var neg = fen < 0; if (neg) fen = -fen;
    var whole = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = String(fen % 100); if (cents.length < 2) cents = "0" + cents;
    return (neg ? "-" : "") + "¥" + whole + "." + cents;
  }
  // splitRow and parse follow the server's reading of pasted rows (orders_paste.go).
  function splitRow(row) {
    var cells = row.indexOf("\t") >= 0 ? row.split("\t") : row.replace(/，/g, ",").split(",");
    cells = cells.map(function (c) { return c.trim(); });
    while (cells.length && cells[cells.length - 1] === "") cells.pop();
    return cells;
  }
  function parse(text) {
    var out = [], first = true;
    text.replace(/\r\n/g, "\n").split("\n").forEach(function (raw, i) {
      if (!raw.trim()) return;
      var cells = splitRow(raw);
      if (first) { first = false; var h = (cells[0] || "").toLowerCase(); if (h.indexOf("姓名") >= 0 || h.indexOf("收件人") >= 0 || h === "name") return; }
      var r = { row: i + 1, cells: cells, qty: 0, err: "" };
      if (cells.length < 4) r.err = "应有姓名、电话、地址、数量 4 列，这一行只有 " + cells.length + " 列";
      else if (!cells[0] || !cells[1] || !cells[2]) r.err = "姓名、电话、地址都要填写";
      else if (!/^\d+$/.test(cells[cells.length - 1]) || +cells[cells.length - 1] <= 0) r.err = "数量不是正整数";
      else r.qty = +cells[cells.length - 1];
      out.push(r);
    });
    return out;
  }
  function lineQty(line) {
    var q = line.querySelector("[data-qty]").value.trim();
    if (q !== "") return /^\d+$/.test(q) ? +q : 0;
    if (!perRecipient()) return 0;
    var sum = 0;
    line.querySelectorAll("[data-rqty]").forEach(function (i) { if (/^\d+$/.test(i.value.trim())) sum += +i.value.trim(); });
    parse(line.querySelector("[data-paste]").value).forEach(function (r) { sum += r.qty; });
    return sum;
  }
  function perRecipient() {
    var c = form.querySelector("[data-delivery]:checked");
    return !c || c.value === "per_recipient";
  }
  function update() {
    var totals = {}, missing = {};
    form.querySelectorAll("[data-mall-total]").forEach(function (el) { totals[el.dataset.mallTotal] = 0; missing[el.dataset.mallTotal] = []; });
    form.querySelectorAll("[data-line]").forEach(function (line) {
      var sel = line.querySelector("[data-sku]"), opt = sel.options[sel.selectedIndex];
      var qty = lineQty(line);
      if (!opt || !opt.value || qty <= 0) return;
      var prices = {};
      (opt.dataset.prices || "").split(" ").forEach(function (p) { var kv = p.split(":"); if (kv.length === 2) prices[kv[0]] = +kv[1]; });
      Object.keys(totals).forEach(function (m) { if (m in prices) totals[m] += prices[m] * qty; else missing[m].push(opt.value); });
    });
    var best = null;
    Object.keys(totals).forEach(function (m) {
      if (!missing[m].length && (best === null || totals[m] < totals[best])) best = m;
    });
    form.querySelectorAll("[data-mall-total]").forEach(function (el) {
      var m = el.dataset.mallTotal;
      el.textContent = missing[m].length ? "未上架 " + missing[m].join(" ") : yuan(totals[m]);
      var b = el.parentNode.querySelector("[data-best]");
      if (b) b.remove();
      if (m === best && totals[m] > 0) { var s = document.createElement("span"); s.className = "best"; s.dataset.best = ""; s.textContent = "（最低）"; el.after(s); }
    });
    var pr = perRecipient();
    form.querySelectorAll("[data-recipients]").forEach(function (el) { el.classList.toggle("off", !pr); });
    var st = form.querySelector("[data-shipto]"); if (st) st.classList.toggle("off", pr);
  }
  function preview(ta) {
    var box = ta.parentNode.querySelector("[data-preview]");
    var rows = parse(ta.value);
    box.textContent = "";
    if (!rows.length) return;
    var bad = rows.filter(function (r) { return r.err; });
    var p = document.createElement("p");
    p.textContent = "读取到 " + (rows.length - bad.length) + " 位收件人" + (bad.length ? "，" + bad.length + " 行有问题：" : "。");
    box.appendChild(p);
    if (bad.length) {
      var ul = document.createElement("ul"); ul.className = "bad";
      bad.forEach(function (r) { var li = document.createElement("li"); li.textContent = "第 " + r.row + " 行：" + r.err; ul.appendChild(li); });
      box.appendChild(ul);
    }
  }
  // Names are line-{i}-…; after adding or removing, lines and rows are numbered again.
  function renumber() {
    form.querySelectorAll("[data-line]").forEach(function (line, i) {
      line.querySelector(".line-title").textContent = "第 " + (i + 1) + " 行";
      line.querySelectorAll("[name^='line-'],[id^='line-'],label[for^='line-']").forEach(function (el) {
        ["name", "id", "for"].forEach(function (a) {
          var v = el.getAttribute(a); if (v) el.setAttribute(a, v.replace(/^line-\d+-/, "line-" + i + "-"));
        });
      });
      line.querySelectorAll("[data-row]").forEach(function (row, j) {
        row.querySelectorAll("[name],[id],label[for]").forEach(function (el) {
          ["name", "id", "for"].forEach(function (a) {
            var v = el.getAttribute(a); if (v) el.setAttribute(a, v.replace(/-r-\d+-/, "-r-" + j + "-"));
          });
        });
      });
    });
  }
  function clear(el) {
    el.querySelectorAll("input:not([type=checkbox]),textarea").forEach(function (i) { i.value = ""; i.removeAttribute("aria-invalid"); });
    el.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
    el.querySelectorAll(".field-error,.row-error,[data-preview] > *").forEach(function (e) { e.remove(); });
  }
  function button(text, onClick) {
    var b = document.createElement("button"); b.type = "button"; b.className = "tool"; b.textContent = text;
    b.addEventListener("click", onClick); return b;
  }
  function enhanceLine(line) {
    var main = line.querySelector(".line-main");
    main.appendChild(button("删除此行", function () {
      if (form.querySelectorAll("[data-line]").length > 1) line.remove(); else clear(line);
      renumber(); update();
    }));
    var tbody = line.querySelector("[data-rows]");
    tbody.parentNode.parentNode.after(button("添加收件人", function () {
      var rows = tbody.querySelectorAll("[data-row]"), row = rows[rows.length - 1].cloneNode(true);
      clear(row); tbody.appendChild(row); renumber(); row.querySelector("input").focus();
    }));
  }
  form.querySelectorAll("[data-line]").forEach(enhanceLine);
  var lines = form.querySelector(".lines");
  lines.appendChild(button("添加商品行", function () {
    var all = form.querySelectorAll("[data-line]"), line = all[all.length - 1].cloneNode(true);
    clear(line);
    line.querySelectorAll(".tool").forEach(function (b) { b.remove(); });
    all[all.length - 1].after(line); enhanceLine(line); renumber(); update();
    line.querySelector("select").focus();
  }));
  form.addEventListener("input", function (e) {
    if (e.target.matches("[data-paste]")) preview(e.target);
    update();
  });
  form.addEventListener("change", update);
  form.querySelectorAll("[data-paste]").forEach(function (ta) { if (ta.value) preview(ta); });
  update();
  // Back to this page (back button, a restored tab): the browser puts the typed values back
  // after the script ran, so the shown fields and totals are worked out again from them.
  window.addEventListener("pageshow", function () {
    form.querySelectorAll("[data-paste]").forEach(function (ta) { preview(ta); });
    update();
  });
})();
