/* Shared helpers for the map pages: datum shift for GCJ-02 base maps, GeoJSON layers, fetch with JSON.
 * Everything the server sends is WGS-84. On a GCJ-02 base map (Amap) overlays are shifted WGS-84 -> GCJ-02 before
 * drawing and clicks are sent back with coordsys=gcj02 (the server converts them). Same formulas as common/geo.py. */
(function (global) {
  "use strict";

  function outOfChina(lon, lat) {
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }

  function gcjDelta(lon, lat) {
    var a = 6378245.0, ee = 0.00669342162296594323, PI = Math.PI;
    var x = lon - 105.0, y = lat - 35.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dlat += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dlat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dlat += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dlon += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dlon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dlon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radlat = lat / 180.0 * PI;
    var magic = 1 - ee * Math.sin(radlat) * Math.sin(radlat);
    var sqrtmagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * PI);
    dlon = (dlon * 180.0) / (a / sqrtmagic * Math.cos(radlat) * PI);
    return [dlon, dlat];
  }

  function wgs84ToGcj02(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    var d = gcjDelta(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  function gcj02ToWgs84(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    var wlon = lon, wlat = lat;
    for (var i = 0; i < 30; i++) {
      var g = wgs84ToGcj02(wlon, wlat);
      var dlon = g[0] - lon, dlat = g[1] - lat;
      wlon -= dlon; wlat -= dlat;
      if (Math.abs(dlon) < 1e-9 && Math.abs(dlat) < 1e-9) break;
    }
    return [wlon, wlat];
  }

  function Datum(name) {
    this.name = name || "wgs84";
    this.gcj = this.name === "gcj02";
  }
  /* WGS-84 lat/lon -> a LatLng to draw on the base map. */
  Datum.prototype.toMap = function (lat, lon) {
    if (!this.gcj) return L.latLng(lat, lon);
    var g = wgs84ToGcj02(lon, lat);
    return L.latLng(g[1], g[0]);
  };
  /* A LatLng on the base map -> WGS-84 {lat, lon}. */
  Datum.prototype.fromMap = function (latlng) {
    if (!this.gcj) return { lat: latlng.lat, lon: latlng.lng };
    var w = gcj02ToWgs84(latlng.lng, latlng.lat);
    return { lat: w[1], lon: w[0] };
  };
  /* Leaflet's GeoJSON coordsToLatLng for this datum. */
  Datum.prototype.coordsToLatLng = function () {
    var self = this;
    return function (c) { return self.toMap(c[1], c[0]); };
  };
  /* The map's current view as a WGS-84 bbox string. */
  Datum.prototype.bbox = function (map) {
    var b = map.getBounds();
    var sw = this.fromMap(b.getSouthWest()), ne = this.fromMap(b.getNorthEast());
    return [sw.lon, sw.lat, ne.lon, ne.lat].map(function (v) { return v.toFixed(6); }).join(",");
  };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(body.detail || ("HTTP " + r.status));
        });
      }
      return r.json();
    });
  }

  function withParams(url, params) {
    var q = Object.keys(params).filter(function (k) { return params[k] !== undefined && params[k] !== null && params[k] !== ""; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
    return q ? url + (url.indexOf("?") >= 0 ? "&" : "?") + q : url;
  }

  function escapeHtml(text) {
    return String(text === undefined || text === null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* Calls fn at most once per `ms` after the last call. */
  function debounce(fn, ms) {
    var t = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function readConfig(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : {};
  }

  /* Streets as a faint, non-interactive background when zoomed in (so a map without base tiles still shows where
   * things are): the public lanes of the view, reloaded as the view moves. */
  function contextLanes(map, datum, url, minZoom) {
    var layer = L.geoJSON(null, {
      coordsToLatLng: datum.coordsToLatLng(),
      interactive: false,
      style: function () { return { color: "#9aa3ad", weight: 2, opacity: 0.7 }; },
    }).addTo(map);
    layer.bringToBack && layer.bringToBack();
    var seq = 0;
    function load() {
      var mine = ++seq;
      if (map.getZoom() < minZoom) { layer.clearLayers(); return; }
      getJSON(withParams(url, { bbox: datum.bbox(map), zoom: map.getZoom() })).then(function (data) {
        if (mine !== seq) return;
        layer.clearLayers();
        layer.addData(data);
        layer.bringToBack();
      }).catch(function () { /* background only */ });
    }
    map.on("moveend", debounce(load, 200));
    load();
    return layer;
  }

  global.LaneChiefMap = {
    contextLanes: contextLanes,
    Datum: Datum,
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    getJSON: getJSON,
    withParams: withParams,
    escapeHtml: escapeHtml,
    debounce: debounce,
    readConfig: readConfig,
  };
})(window);
