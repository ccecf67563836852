/* The dashboard map. folium made the map, one empty feature group per layer and the layer control; this fills each
 * visible group for the current view from the dashboard's JSON endpoints, again whenever the view moves. */
(function () {
  "use strict";
  var M = window.LaneChiefMap;
  var cfg = M.readConfig("dashboard-config");
  var map = window[cfg.mapName];
  var datum = new M.Datum(cfg.datum);
  var t = cfg.text;
  var status = document.getElementById("map-status");
  var panel = document.getElementById("lane-panel");
  var container = map.getContainer();

  var LIGHTS = ["", "green", "yellow", "red", "suspended"];
  var LIGHT_COLORS = { green: "#2e9e44", yellow: "#f2c200", red: "#d62728", "": "#8c8c8c", suspended: "#8c8c8c" };
  var COVERAGE_COLORS = { covered: "#2e9e44", missed: "#d62728", rest: "#9e9e9e" };

  function rateColor(rate) {
    if (rate === null || rate === undefined) return null;
    if (rate >= 0.9) return "#1a9850";
    if (rate >= 0.8) return "#a6d96a";
    if (rate >= 0.6) return "#fdae61";
    return "#d73027";
  }

  function group(key) { return window[cfg.groups[key]]; }

  var states = {}, notes = {};
  function setState(key, state, note) {
    states[key] = state;
    if (note !== undefined) notes[key] = note;
    container.dataset["layer" + key.charAt(0).toUpperCase() + key.slice(1)] = state;
    var busy = Object.keys(states).some(function (k) { return states[k] === "loading"; });
    var text = Object.keys(notes).map(function (k) { return notes[k]; }).filter(function (n, i, all) {
      return n && all.indexOf(n) === i;
    }).join(" ");
    status.textContent = busy ? t.loading : text;
    status.dataset.state = busy ? "loading" : "ready";
  }

  function url(key, extra) {
    var params = Object.assign({}, cfg.query, { bbox: datum.bbox(map), zoom: map.getZoom() }, extra || {});
    return M.withParams(cfg.urls[key], params);
  }

  var seq = {};
  function load(key, draw) {
    var g = group(key);
    if (!map.hasLayer(g)) return;
    var mine = seq[key] = (seq[key] || 0) + 1;
    setState(key, "loading");
    M.getJSON(url(key)).then(function (data) {
      if (seq[key] !== mine) return;
      g.clearLayers();
      var note = draw(g, data) || "";
      setState(key, "ready", note);
    }).catch(function (err) {
      if (seq[key] !== mine) return;
      setState(key, "error", t.error + " " + err.message);
    });
  }

  /* --- layers ------------------------------------------------------------------------------------------------ */
  function drawBoundaries(g, data) {
    L.geoJSON(data, {
      coordsToLatLng: datum.coordsToLatLng(),
      interactive: false,
      style: function (f) {
        var so = f.properties.level === "street_office";
        return { className: "lc-boundary", color: so ? "#5b3f8c" : "#8c7bb5", weight: so ? 3 : 1.5, dashArray: so ? null : "4 4",
          fill: false, opacity: 0.9 };
      },
    }).addTo(g);
    legend.update({ illustrative: data.illustrative });
    return data.illustrative ? t.illustrative : "";
  }

  function drawLanes(g, data) {
    if (data.too_wide) return t.zoomIn;
    L.geoJSON(data, {
      coordsToLatLng: datum.coordsToLatLng(),
      style: function (f) {
        return { className: "lc-lane lc-lane-" + f.properties.cov, color: COVERAGE_COLORS[f.properties.cov], weight: 4, opacity: 0.85 };
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(M.escapeHtml(f.properties.name) + " · " + M.escapeHtml(t[f.properties.cov]), { sticky: true });
        layer.on("click", function () { showLane(f.id); });
      },
    }).addTo(g);
    container.dataset.lanes = String(data.features.length);
    return data.truncated ? t.truncated : "";
  }

  function drawCells(g, data) {
    if (data.too_wide) return t.zoomIn;
    L.geoJSON(data, {
      coordsToLatLng: datum.coordsToLatLng(),
      style: function (f) {
        var c = rateColor(f.properties.rate);
        return { className: "lc-cell", color: "#777", weight: 0.5, opacity: 0.6, fillColor: c || "#000", fillOpacity: c ? 0.45 : 0 };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        var text = M.escapeHtml(p.name) + "<br>" + (p.found ? (p.fixed + "/" + p.found + "（" + Math.round(p.rate * 100) + "%）") : t.noCases);
        layer.bindTooltip(text, { sticky: true });
      },
    }).addTo(g);
    container.dataset.cells = String(data.features.length);
    return data.truncated ? t.truncated : "";
  }

  function worstLight(lights) {
    if (lights.indexOf("red") >= 0) return "red";
    if (lights.indexOf("yellow") >= 0) return "yellow";
    if (lights.indexOf("green") >= 0) return "green";
    return "";
  }

  function clusterIcon(count, light) {
    var size = count < 10 ? 30 : count < 100 ? 36 : count < 1000 ? 44 : 52;
    return L.divIcon({
      html: String(count), className: "case-cluster light-" + (light || "none"), iconSize: [size, size],
    });
  }

  function drawCases(g, data) {
    if (data.points) {
      var cluster = L.markerClusterGroup({
        chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50,
        iconCreateFunction: function (c) {
          var lights = c.getAllChildMarkers().map(function (m) { return m.options.light; });
          var icon = clusterIcon(c.getChildCount(), worstLight(lights));
          icon.options.html = String(c.getChildCount());
          return icon;
        },
      });
      var markers = data.points.map(function (p) {
        var light = LIGHTS[p[2]] || "";
        var m = L.marker(datum.toMap(p[0], p[1]), {
          light: light,
          icon: L.divIcon({ className: "case-dot light-" + (light || "none"), iconSize: [14, 14] }),
        });
        m.bindPopup(function () {
          var link = cfg.urls.case ? cfg.urls.case.replace("/0/", "/" + p[3] + "/") : "";
          return '<span class="light ' + (light || "none") + '"></span>' + M.escapeHtml(t[light || "none"] || "") +
            (link ? ' <a href="' + link + '">' + M.escapeHtml(t.openCase) + "</a>" : "");
        });
        return m;
      });
      cluster.addLayers(markers);
      g.addLayer(cluster);
      container.dataset.cases = String(data.points.length);
    } else {
      data.clusters.forEach(function (c) {
        var light = c[3] ? "red" : c[4] ? "yellow" : c[5] ? "green" : "";
        L.marker(datum.toMap(c[0], c[1]), { icon: clusterIcon(c[2], light) })
          .on("click", function () { map.setView(this.getLatLng(), map.getZoom() + 2); })
          .addTo(g);
      });
      container.dataset.cases = String(data.total);
    }
    return "";
  }

  var heat = null;
  function drawHeat(g, data) {
    var max = data.max || 1;
    var pts = data.points.map(function (p) {
      var ll = datum.toMap(p[0], p[1]);
      return [ll.lat, ll.lng, p[2] / max];
    });
    heat = L.heatLayer(pts, { radius: 22, blur: 18, maxZoom: 17, minOpacity: 0.25 });
    g.addLayer(heat);
    container.dataset.heat = String(pts.length);
    return "";
  }

  var DRAW = { boundaries: drawBoundaries, cells: drawCells, heat: drawHeat, lanes: drawLanes, cases: drawCases };
  function reloadAll() { Object.keys(DRAW).forEach(function (k) { load(k, DRAW[k]); }); }

  map.on("moveend", M.debounce(reloadAll, 200));
  map.on("overlayadd", function (e) {
    Object.keys(DRAW).forEach(function (k) { if (e.layer === group(k)) load(k, DRAW[k]); });
  });
  map.on("overlayremove", function (e) {
    Object.keys(DRAW).forEach(function (k) {
      if (e.layer === group(k)) { group(k).clearLayers(); setState(k, "off", ""); }
    });
  });

  /* --- legend ------------------------------------------------------------------------------------------------ */
  var legend = { _div: document.getElementById("map-legend") };
  legend.update = function (opts) {
    if (!this._div) return;
    var h = "<h4>" + M.escapeHtml(t.lanesTitle) + "</h4>";
    ["covered", "missed", "rest"].forEach(function (k) {
      h += '<i class="ln" style="border-color:' + COVERAGE_COLORS[k] + '"></i>' + M.escapeHtml(t[k]) + " ";
    });
    h += "<h4>" + M.escapeHtml(t.casesTitle) + "</h4>";
    ["green", "yellow", "red"].forEach(function (k) {
      h += '<span class="light ' + k + '"></span>' + M.escapeHtml(t[k]) + " ";
    });
    h += "<h4>" + M.escapeHtml(t.cellsTitle) + "</h4>";
    [["≥90%", 0.95], ["80–90%", 0.85], ["60–80%", 0.7], ["<60%", 0.3]].forEach(function (r) {
      h += '<i class="sw" style="background:' + rateColor(r[1]) + '"></i>' + r[0] + " ";
    });
    h += "<h4>" + M.escapeHtml(t.boundaryTitle) + "</h4>" +
      '<i class="ln" style="border-color:#5b3f8c"></i>' + M.escapeHtml(t.streetOffice) +
      ' <i class="ln" style="border-color:#8c7bb5;border-top-style:dashed;border-top-width:2px"></i>' + M.escapeHtml(t.community) +
      (opts.illustrative ? '<div class="illustrative">' + M.escapeHtml(t.illustrative) + "</div>" : "");
    this._div.innerHTML = h;
  };
  legend.update({});

  /* --- lane panel -------------------------------------------------------------------------------------------- */
  function showLane(id) {
    panel.dataset.state = "loading";
    panel.innerHTML = "<p>" + M.escapeHtml(t.loading) + "</p>";
    M.getJSON(M.withParams(cfg.urls.lane.replace("/0/", "/" + id + "/"), cfg.query)).then(function (d) {
      var h = "<h2>" + M.escapeHtml(d.lane.name) + "</h2>";
      if (d.community) h += '<p class="muted">' + M.escapeHtml(d.community.name) + "</p>";
      h += "<h3>" + M.escapeHtml(t.chief) + "</h3>";
      h += d.chiefs.length ? "<ul>" + d.chiefs.map(function (c) {
        return "<li>" + M.escapeHtml(c.name) + " " + M.escapeHtml(c.department) + M.escapeHtml(c.title) +
          (c.public_phone ? " " + M.escapeHtml(c.public_phone) : "") + "</li>";
      }).join("") + "</ul>" : "<p>" + M.escapeHtml(t.noChief) + "</p>";
      h += "<h3>" + M.escapeHtml(t.squads) + "</h3><ul>" + d.squads.map(function (s) {
        return "<li>" + M.escapeHtml(s.kind_name) + "：" + M.escapeHtml(s.name || "—") + (s.duty_phone ? " " + M.escapeHtml(s.duty_phone) : "") + "</li>";
      }).join("") + "</ul>";
      h += "<h3>" + M.escapeHtml(t.openCases) + "（" + d.open_total + " " + M.escapeHtml(t.cases) + "）</h3>";
      if (d.open_cases.length) {
        h += '<ul class="lane-cases">' + d.open_cases.map(function (c) {
          var link = cfg.urls.case ? cfg.urls.case.replace("/0/", "/" + c.id + "/") : "";
          return '<li><span class="light ' + (c.light || "none") + '"></span>' +
            (link ? '<a href="' + link + '">' + M.escapeHtml(c.code) + "</a>" : M.escapeHtml(c.code)) + " " +
            M.escapeHtml(c.category) + " " + M.escapeHtml(c.deadline) + "</li>";
        }).join("") + "</ul>";
      }
      h += "<h3>" + M.escapeHtml(t.lastPatrol) + "</h3><p>" + (d.last_patrol
        ? M.escapeHtml(d.last_patrol.day + " " + d.last_patrol.person + "（" + Math.round(d.last_patrol.share * 100) + "%）")
        : M.escapeHtml(t.never)) + "</p>";
      h += '<p><a href="' + M.escapeHtml(d.lookup_url) + '">' + M.escapeHtml(t.placard) + "</a></p>";
      panel.innerHTML = h;
      panel.dataset.state = "ready";
      panel.dataset.laneId = String(d.lane.id);
    }).catch(function (err) {
      panel.dataset.state = "error";
      panel.innerHTML = '<p class="error">' + M.escapeHtml(t.error + " " + err.message) + "</p>";
    });
  }

  reloadAll();
})();
