/* The public lookup map: lanes of the current view (only when zoomed in), click the map or use the phone's position
 * to find the nearest lane, then open its contact placard. */
(function () {
  "use strict";
  var M = window.LaneChiefMap;
  var cfg = M.readConfig("lookup-config");
  var map = window[cfg.mapName];
  var datum = new M.Datum(cfg.datum);
  var t = cfg.text;
  var hint = document.getElementById("map-hint");
  var panel = document.getElementById("nearest-result");
  var locateButton = document.getElementById("locate-me");

  var laneStyle = { color: "#0b5394", weight: 4, opacity: 0.75 };
  var lanes = L.geoJSON(null, {
    coordsToLatLng: datum.coordsToLatLng(),
    style: function () { return laneStyle; },
    onEachFeature: function (feature, layer) {
      var p = feature.properties;
      layer.bindTooltip(M.escapeHtml(p.name) + (p.community ? " · " + M.escapeHtml(p.community) : ""), { sticky: true });
      layer.on("click", function (e) {
        L.DomEvent.stopPropagation(e);
        findNearest(datum.fromMap(e.latlng));
      });
    },
  }).addTo(map);
  var chosen = L.geoJSON(null, {
    coordsToLatLng: datum.coordsToLatLng(),
    style: function () { return { color: "#c0392b", weight: 8, opacity: 0.9 }; },
    interactive: false,
  }).addTo(map);
  var here = null;

  var loading = 0;
  function setHint(text, state) {
    hint.textContent = text;
    hint.dataset.state = state;
  }

  function loadLanes() {
    var seq = ++loading;
    if (map.getZoom() < cfg.minZoom) {
      lanes.clearLayers();
      setHint(t.zoomIn, "zoom-in");
      return;
    }
    setHint(t.loading, "loading");
    M.getJSON(M.withParams(cfg.lanesUrl, { bbox: datum.bbox(map), zoom: map.getZoom() }))
      .then(function (data) {
        if (seq !== loading) return;
        lanes.clearLayers();
        if (data.too_wide) { setHint(t.zoomIn, "zoom-in"); return; }
        lanes.addData(data);
        chosen.bringToFront();
        setHint(data.truncated ? t.truncated : (data.features.length ? t.clickHint : t.noLanes), "ready");
        map.getContainer().dataset.lanes = String(data.features.length);
      })
      .catch(function (err) { if (seq === loading) setHint(t.error + " " + err.message, "error"); });
  }

  function showLane(lane) {
    chosen.clearLayers();
    if (!lane) {
      panel.innerHTML = '<p class="none">' + M.escapeHtml(t.noneNear) + "</p>";
      panel.dataset.state = "none";
      return;
    }
    chosen.addData({ type: "Feature", geometry: lane.geometry, properties: {} });
    panel.innerHTML =
      '<h2><a href="' + M.escapeHtml(lane.url) + '">' + M.escapeHtml(lane.name) + "</a></h2>" +
      (lane.community ? "<p>" + M.escapeHtml(lane.community) + "</p>" : "") +
      '<p class="distance">' + M.escapeHtml(t.distance.replace("%s", Math.round(lane.distance_m))) + "</p>" +
      '<p><a class="button primary" href="' + M.escapeHtml(lane.url) + '">' + M.escapeHtml(t.openPlacard) + "</a></p>";
    panel.dataset.state = "found";
    panel.dataset.laneId = String(lane.id);
  }

  function findNearest(wgs, within) {
    panel.dataset.state = "loading";
    panel.innerHTML = "<p>" + M.escapeHtml(t.searching) + "</p>";
    return M.getJSON(M.withParams(cfg.nearestUrl, { lat: wgs.lat.toFixed(7), lon: wgs.lon.toFixed(7), within: within }))
      .then(function (data) { showLane(data.lane); })
      .catch(function (err) {
        panel.dataset.state = "error";
        panel.innerHTML = '<p class="error">' + M.escapeHtml(t.error + " " + err.message) + "</p>";
      });
  }

  function markHere(lat, lon) {
    var ll = datum.toMap(lat, lon);
    if (here) here.setLatLng(ll);
    else here = L.circleMarker(ll, { radius: 8, color: "#fff", weight: 3, fillColor: "#1a73e8", fillOpacity: 1 }).addTo(map);
    return ll;
  }

  map.on("click", function (e) {
    var wgs = datum.fromMap(e.latlng);
    markHere(wgs.lat, wgs.lon);
    findNearest(wgs);
  });
  map.on("moveend", M.debounce(loadLanes, 150));

  if (locateButton) {
    if (!("geolocation" in navigator)) locateButton.hidden = true;
    locateButton.addEventListener("click", function () {
      panel.dataset.state = "locating";
      panel.innerHTML = "<p>" + M.escapeHtml(t.locating) + "</p>";
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          var lat = pos.coords.latitude, lon = pos.coords.longitude;
          var ll = markHere(lat, lon);
          map.setView(ll, Math.max(map.getZoom(), cfg.minZoom + 2));
          findNearest({ lat: lat, lon: lon }, cfg.locateWithin);
        },
        function (err) {
          panel.dataset.state = "error";
          panel.innerHTML = '<p class="error">' + M.escapeHtml(t.noPosition + " (" + err.message + ")") + "</p>";
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  loadLanes();
})();
