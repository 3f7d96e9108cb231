// aidmall dashboard: draws the charts with ECharts from the page's data block, and keeps
// the figures live (server-sent events from /dashboard/events: on "changed" the page is
// fetched again and its figures, tables and charts put in place). Progressive
// enhancement: without this script every figure is in the tables.
"use strict";
(function () {
  var root = document.getElementById("dashboard-figures");
  if (!root) return;
  var status = document.getElementById("live-status");

  function numbers(values) {
    return values.map(function (v) { return v === "" ? "-" : parseFloat(v); });
  }

  // tooltips drawn on the canvas (richText), not as HTML: no inline styles under the CSP.
  function tooltip(d) {
    return {
      trigger: "item", renderMode: "richText", confine: true,
      formatter: function (p) { return p.name + "：" + (d.texts ? d.texts[p.dataIndex] : p.value); }
    };
  }

  function option(key, d) {
    var base = { aria: { enabled: true }, animation: false, textStyle: { fontFamily: "system-ui, sans-serif" } };
    if (key === "category") {
      base.tooltip = tooltip(d);
      base.series = [{ type: "pie", radius: ["35%", "65%"], label: { formatter: "{b}" },
        data: d.labels.map(function (l, i) { return { name: l, value: parseFloat(d.values[i]) }; }) }];
      return base;
    }
    base.grid = { left: 8, right: 16, top: 24, bottom: 8, containLabel: true };
    base.xAxis = { type: "category", data: d.labels, axisLabel: { interval: 0, rotate: d.labels.length > 6 ? 45 : 0, hideOverlap: true } };
    base.yAxis = { type: "value", name: "元" };
    if (key === "budget") {
      base.tooltip = { trigger: "axis", renderMode: "richText", confine: true };
      base.legend = { data: ["已使用", "预算"], top: 0 };
      base.series = [
        { name: "已使用", type: "bar", data: numbers(d.used) },
        { name: "预算", type: "bar", data: numbers(d.budgets) }
      ];
      return base;
    }
    base.tooltip = tooltip(d);
    base.series = [{ type: key === "month" ? "line" : "bar", data: numbers(d.values), areaStyle: key === "month" ? {} : undefined }];
    return base;
  }

  function draw() {
    if (typeof echarts === "undefined") return;
    var block = document.getElementById("dashboard-data");
    if (!block) return;
    var data;
    try { data = JSON.parse(block.textContent); } catch (e) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var d = data[el.getAttribute("data-chart")];
      if (!d) return;
      var chart = echarts.getInstanceByDom(el) || echarts.init(el);
      chart.setOption(option(el.getAttribute("data-chart"), d), true);
      el.setAttribute("data-drawn", "1");
    });
  }

  function dispose() {
    if (typeof echarts === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var c = echarts.getInstanceByDom(el);
      if (c) c.dispose();
    });
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function refresh() {
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("dashboard-figures");
        if (!fresh) return;
        dispose();
        root.replaceChildren.apply(root, Array.prototype.map.call(fresh.childNodes, function (n) { return document.importNode(n, true); }));
        draw();
        var t = new Date();
        if (status) status.textContent = " 数据已于 " + two(t.getHours()) + ":" + two(t.getMinutes()) + ":" + two(t.getSeconds()) + " 更新。";
      })
      .catch(function () { if (status) status.textContent = " 数据更新失败，请刷新页面。"; });
  }

  var pending = null;
  function schedule() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 300);
  }

  draw();
  window.addEventListener("resize", function () {
    if (typeof echarts === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var c = echarts.getInstanceByDom(el);
      if (c) c.resize();
    });
  });
  if (window.EventSource && root.getAttribute("data-live")) {
    var es = new EventSource(root.getAttribute("data-live"));
    es.addEventListener("changed", schedule);
  }
})();
