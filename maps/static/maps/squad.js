/* The squad map: one marker per open dispatch, coloured by its traffic light; the list and the map select together. */
(function () {
  "use strict";
  var M = window.LaneChiefMap;
  var cfg = M.readConfig("squad-config");
  var map = window[cfg.mapName];
  var datum = new M.Datum(cfg.datum);
  var COLORS = { red: "#d62728", yellow: "#f2c200", green: "#2e9e44", "": "#888888" };
  var markers = {};
  if (cfg.contextUrl) M.contextLanes(map, datum, cfg.contextUrl, 15);
  var group = L.featureGroup().addTo(map);

  cfg.points.forEach(function (p) {
    var marker = L.circleMarker(datum.toMap(p.lat, p.lon), {
      radius: 9, weight: 2, color: "#fff", fillColor: COLORS[p.light] || COLORS[""], fillOpacity: 0.95,
      className: "case-marker light-" + (p.light || "none"),
    });
    var html = "<strong>" + M.escapeHtml(p.code) + "</strong> " + M.escapeHtml(p.category) +
      (p.lane ? "<br>" + M.escapeHtml(p.lane) : "") +
      "<br>" + M.escapeHtml(p.suspended ? cfg.text.suspended : p.remaining) +
      (p.url ? '<br><a href="' + M.escapeHtml(p.url) + '">' + M.escapeHtml(cfg.text.open) + "</a>" : "");
    marker.bindPopup(html);
    marker.on("click", function () { select(p.id, false); });
    marker.addTo(group);
    markers[p.id] = marker;
  });
  if (cfg.points.length) map.fitBounds(group.getBounds(), { padding: [30, 30], maxZoom: 17 });

  function select(id, fromList) {
    document.querySelectorAll("tr.case-row.active").forEach(function (tr) { tr.classList.remove("active"); });
    var row = document.querySelector('tr.case-row[data-case-id="' + id + '"]');
    if (row) {
      row.classList.add("active");
      if (!fromList) row.scrollIntoView({ block: "nearest" });
    }
    if (fromList && markers[id]) {
      map.setView(markers[id].getLatLng(), Math.max(map.getZoom(), 16));
      markers[id].openPopup();
    }
  }
  document.querySelectorAll("tr.case-row").forEach(function (tr) {
    tr.addEventListener("click", function (e) {
      if (e.target.tagName === "A") return;
      select(tr.dataset.caseId, true);
    });
  });
})();
