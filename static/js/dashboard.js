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
  chart("by-path", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 80, right: 20, top: 40, bottom: 20 },
    yAxis: { type: "category", data: data.counties.slice().reverse() },
    xAxis: { type: "value", name: "户" },
    series: data.by_path.map(function (s) {
      return { name: s.name, type: "bar", stack: "done", data: s.data.slice().reverse() };
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
          visualMap: { min: 0, max: 100, calculable: true, formatter: function (v) { return Math.round(v) + "%"; }, left: 10, bottom: 10, inRange: { color: ["#fde2e1", "#f7c948", "#0b6e4f"] } },
          geo: {
            map: "xinzhou", roam: false, label: { show: true, fontSize: 10 },
            // 忻州城区's point sits in 忻府区: that county's name moves up out of its way.
            regions: [{ name: "忻府区", label: { offset: [0, -16] } }],
          },
          series: [
            { type: "map", map: "xinzhou", geoIndex: 0, data: areas.map(function (c) { return { name: c.name, value: value(c) }; }) },
            {
              type: "scatter", coordinateSystem: "geo", symbolSize: 16,
              label: { show: true, position: "bottom", formatter: "{b}", fontSize: 10 },
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
