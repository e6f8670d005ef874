// Each county's targets by heating path as stacked bars; data from the page's #chart-data.
(function () {
  var el = document.getElementById("county-chart");
  var source = document.getElementById("chart-data");
  if (!el || !source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 80, right: 30, top: 40, bottom: 20 },
    yAxis: { type: "category", data: data.counties.slice().reverse(), axisLabel: { interval: 0 } },
    xAxis: { type: "value", name: "户" },
    series: data.series.map(function (s) {
      return { name: s.name, type: "bar", stack: "total", data: s.data.slice().reverse() };
    }),
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
