// Draws the insight charts: each element with data-chart="name" gets the figure of that name from the page's
// JSON data block (a data block is not run, so the page's Content-Security-Policy allows it).
(function () {
  var block = document.getElementById("chart-data");
  if (!block || typeof Plotly === "undefined") { return; }
  var figures = JSON.parse(block.textContent);
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var figure = figures[element.getAttribute("data-chart")];
    if (figure) {
      Plotly.newPlot(element, figure.data, figure.layout, figure.config || { displayModeBar: false, responsive: true });
      element.setAttribute("data-drawn", "yes");
    }
  });
})();
