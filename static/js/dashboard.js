// The dashboards' ECharts figures, from the page's #dashboard-data; all assets are local.
(function () {
  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = echarts.init(el);
    c.setOption(option);
    charts.push(c);
  }
  // Figures with thousands separators, as everywhere else on the page.
  function households(n) { return Number(n).toLocaleString("zh-CN"); }
  chart("funnel", {
    tooltip: { trigger: "item", formatter: function (p) { return p.name + "：" + households(p.value) + " 户"; } },
    // Narrow enough that the labels beside the widest layers fit inside the chart.
    series: [{
      type: "funnel", sort: "descending", left: "4%", width: "52%", data: data.funnel,
      label: { fontSize: 12, formatter: function (p) { return p.name + " " + households(p.value); } },
    }],
  });
  // Each path's completion rate by county (a county without that path has no bar); the
  // tooltip gives the households behind each rate.
  chart("by-path", {
    tooltip: {
      trigger: "axis", axisPointer: { type: "shadow" },
      formatter: function (items) {
        var county = items.length ? items[0].axisValue : "";
        var index = data.counties.length - 1 - items[0].dataIndex;
        return [county].concat(data.by_path.filter(function (s) { return s.targets[index]; }).map(function (s) {
          return s.name + "：" + households(s.data[index]) + " / " + households(s.targets[index]) + " 户（" + s.rates[index] + "%）";
        })).join("<br>");
      },
    },
    legend: { top: 0 },
    grid: { left: 80, right: 30, top: 40, bottom: 20 },
    yAxis: { type: "category", data: data.counties.slice().reverse(), axisLabel: { interval: 0 } },
    xAxis: { type: "value", name: "%", min: 0, max: 100 },
    series: data.by_path.map(function (s) {
      return { name: s.name, type: "bar", barGap: 0, data: s.rates.slice().reverse().map(function (v) { return v === null ? "-" : v; }) };
    }),
  });
  chart("trend", {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: data.trend.map(function (p) { return p[0]; }) },
    yAxis: { type: "value", name: "户" },
    series: [
      { name: "已完工", type: "line", data: data.trend.map(function (p) { return p[1]; }) },
      { name: "已验收", type: "line", data: data.trend.map(function (p) { return p[2]; }) },
    ],
  });
  var script = document.getElementById("dashboard-script");
  var geo = script && script.dataset.geo;
  if (geo && document.getElementById("map")) {
    fetch(geo).then(function (r) { return r.json(); }).then(function (json) {
      echarts.registerMap("xinzhou", json);
      var select = document.getElementById("map-metric");
      var el = document.getElementById("map");
      var map = echarts.init(el);
      charts.push(map);
      // The county map coloured by one figure at a time (a percentage); "—" where a county has none.
      function draw(key) {
        var label = select ? select.options[select.selectedIndex].text : "完成率";
        function value(c) {
          var v = c.metrics && key in c.metrics ? c.metrics[key] : c.value;
          return v === null || v === undefined ? "-" : v;
        }
        var areas = data.map.filter(function (c) { return !c.point; });
        var points = data.map.filter(function (c) { return c.point; });
        map.setOption({
          tooltip: { trigger: "item", formatter: function (p) {
            var v = p.value instanceof Array ? p.value[2] : p.value;
            return p.name + "：" + label + " " + (v === "-" || v === undefined || isNaN(v) ? "—" : v + "%");
          } },
          // The handles carry the legend's figures, each once and as a percentage.
          // Steps, not a gradient: 93.9% and 100% must not look alike; dark labels with a halo
          // stay readable on every colour.
          visualMap: {
            type: "piecewise", left: 10, bottom: 10, itemWidth: 14, itemHeight: 10,
            pieces: [
              { gte: 100, label: "100%", color: "#08543c" },
              { gte: 95, lt: 100, label: "95%–99%", color: "#3f9e6e" },
              { gte: 80, lt: 95, label: "80%–94%", color: "#a3d39c" },
              { gte: 50, lt: 80, label: "50%–79%", color: "#f7c948" },
              { lt: 50, label: "50% 以下", color: "#f8b4a8" },
            ],
          },
          geo: {
            map: "xinzhou", roam: false,
            label: { show: true, fontSize: 10, color: "#1f2933", textBorderColor: "#fff", textBorderWidth: 2 },
            // 忻州城区's point sits in 忻府区: that county's name moves up out of its way.
            regions: [{ name: "忻府区", label: { offset: [0, -16] } }],
          },
          series: [
            { type: "map", map: "xinzhou", geoIndex: 0, data: areas.map(function (c) { return { name: c.name, value: value(c) }; }) },
            {
              type: "scatter", coordinateSystem: "geo", symbolSize: 16,
              label: { show: true, position: "bottom", formatter: "{b}", fontSize: 10, color: "#1f2933", textBorderColor: "#fff", textBorderWidth: 2 },
              data: points.map(function (c) { return { name: c.short, value: [c.point[0], c.point[1], value(c)] }; }),
            },
          ],
        }, true);
        el.dataset.metric = key;
      }
      draw(select ? select.value : "completed");
      if (select) select.addEventListener("change", function () { draw(select.value); });
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
