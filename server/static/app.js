/* rivernet web map ("河湖一张图"): MapLibre GL JS on the server's own tiles and APIs.
 *
 * Everything is fetched with relative URLs from the serving machine: the style (style.json,
 * built from the layer catalog; the legend is in its metadata), vector tiles, the OGC API
 * collections (downloads, the chosen feature's attributes), the search endpoint and the analysis
 * endpoints (chiefs, partners). Chinese first, English on request. On narrow screens the layer
 * panel is collapsed and the info panel is a sheet over the bottom of the map. */
(function () {
  "use strict";

  var LEVELS = ["province", "city", "county", "township", "village"];
  var CLICKABLE = ["boards", "coverage", "coverage_gaps", "boundary_rivers", "crossings", "reaches", "lakes"];
  var PROBLEMS = ["gap", "overlap", "expired"];
  var NARROW = "(max-width: 700px)";
  // Every text of the page comes from the server's message catalogue (messages.json: the
  // sections web, column, level, level_of, status, kind, rule, relation, bool, layer, cause in
  // both languages); no UI string is written here.
  var M = { zh: {}, en: {} };
  var CHIEF_COLUMNS = ["level", "role", "name", "post", "unit_name", "valid_from", "valid_to"];
  var PARTNER_COLUMNS = ["relation", "partner_name", "river_name", "level", "distance_km", "partner_chiefs"];

  var state = {
    lang: "zh",
    level: "county",
    asOf: chinaToday(),
    hidden: {},
    problemsOnly: false,
    style: null,
    map: null,
    selected: null,
    selectedLayer: null
  };

  // Today in China (UTC+8, no daylight saving), whatever the browser's time zone: the roster's
  // "today" is China's.
  function chinaToday() {
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  }

  function $(id) { return document.getElementById(id); }
  function section(name) { return (M[state.lang] || {})[name] || {}; }
  function t(key) { return section("web")[key] || key; }
  function column(key) { return section("column")[key] || key; }
  function levelName(value) {
    var template = section("level_of").text || "{level}";
    return template.replace("{level}", section("level")[value] || value);
  }
  var CODED = { status: "status", kind: "kind", rule: "rule", relation: "relation", cause: "cause", board_status: "board_status" };
  function loadMessages() {
    return fetchJson("messages.json").then(function (body) { M = body; });
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined && params[k] !== "") {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function fetchJson(url) {
    // once the roster has changed (editor.js sets the stamp), answers are revalidated (ETags)
    // instead of taken from the browser's cache
    var cache = window.rivernetTileStamp ? "no-cache" : "default";
    return fetch(url, { headers: { Accept: "application/json, application/geo+json" }, cache: cache })
      .then(function (response) {
        if (!response.ok) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            var error = new Error(body.detail || response.statusText);
            error.status = response.status;
            throw error;
          });
        }
        return response.json();
      });
  }

  function status(message) {
    var box = $("status");
    box.textContent = message || "";
    box.className = message ? "shown" : "";
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  // --- style -----------------------------------------------------------------------------

  function styleUrl() {
    return "style.json" + query({ level: state.level, datetime: state.asOf, lang: state.lang });
  }

  function legendEntries() {
    return (state.style && state.style.metadata && state.style.metadata["rivernet:legend"]) || [];
  }

  function prepareStyle(style) {
    style.layers.forEach(function (layer) {
      var id = layer.metadata && layer.metadata["rivernet:layer"];
      if (!id) { return; }
      if (id in state.hidden) {
        layer.layout = layer.layout || {};
        layer.layout.visibility = state.hidden[id] ? "none" : "visible";
      }
      if (id === "coverage" && state.problemsOnly) {
        layer.filter = ["in", ["get", "status"], ["literal", PROBLEMS]];
      }
    });
    return style;
  }

  function loadStyle() {
    return fetchJson(styleUrl()).then(function (style) {
      style.layers.forEach(function (layer) {
        var id = layer.metadata && layer.metadata["rivernet:layer"];
        if (id && !(id in state.hidden)) {
          state.hidden[id] = layer.layout && layer.layout.visibility === "none";
        }
      });
      state.style = prepareStyle(style);
      return state.style;
    });
  }

  function reloadStyle() {
    return loadStyle().then(function (style) {
      state.map.setStyle(style, { diff: false });
      state.map.once("styledata", function () { addSelectionLayer(); renderLegend(); updateDownloads(); });
    });
  }

  function setVisibility(id, visible) {
    state.hidden[id] = !visible;
    state.style.layers.forEach(function (layer) {
      if (layer.metadata && layer.metadata["rivernet:layer"] === id && state.map.getLayer(layer.id)) {
        state.map.setLayoutProperty(layer.id, "visibility", visible ? "visible" : "none");
      }
    });
    updateDownloads();
  }

  function setProblemsOnly(on) {
    state.problemsOnly = on;
    if (state.map.getLayer("coverage")) {
      state.map.setFilter("coverage", on ? ["in", ["get", "status"], ["literal", PROBLEMS]] : null);
    }
  }

  // --- legend and downloads ---------------------------------------------------------------

  function swatch(kind, color) {
    var node = el("span", { "class": "swatch " + kind });
    node.style.background = color;
    return node;
  }

  function renderLegend() {
    var box = $("legend");
    box.textContent = "";
    legendEntries().forEach(function (entry) {
      var checkbox = el("input", { type: "checkbox", "data-layer": entry.id });
      checkbox.checked = !state.hidden[entry.id];
      checkbox.addEventListener("change", function () { setVisibility(entry.id, checkbox.checked); });
      var title = state.lang === "zh" ? entry.title_zh : entry.title_en;
      var label = el("label", {}, [checkbox, entry.categories.length ? null : swatch(entry.geometry_type, entry.color), el("span", { text: title })]);
      var items = entry.categories.map(function (c) {
        return el("li", { "data-value": c.value }, [
          swatch(entry.geometry_type, c.color),
          el("span", { text: state.lang === "zh" ? c.label_zh : c.label_en })
        ]);
      });
      box.appendChild(el("div", { "class": "legend-layer", id: "legend-" + entry.id }, [
        label, items.length ? el("ul", {}, items) : null
      ]));
    });
  }

  function viewBbox() {
    var b = state.map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(5);
    }).join(",");
  }

  function updateDownloads() {
    if (!state.map || !state.style) { return; }
    var list = $("downloads");
    list.textContent = "";
    var bbox = viewBbox();
    legendEntries().forEach(function (entry) {
      if (state.hidden[entry.id]) { return; }
      var polygonLayers = state.style.metadata["rivernet:polygon_layers"] || [];
      var level = polygonLayers.indexOf(entry.id) >= 0 ? polygonLevel() : state.level;
      var params = { bbox: bbox, limit: 100000, level: level, datetime: state.asOf };
      var base = "collections/" + entry.id + "/items";
      list.appendChild(el("li", {}, [
        el("span", { text: state.lang === "zh" ? entry.title_zh : entry.title_en }),
        el("a", { href: base + query(Object.assign({ f: "json" }, params)), download: entry.id + ".geojson", text: "GeoJSON" }),
        el("a", { href: base + query(Object.assign({ f: "csv" }, params)), download: entry.id + ".csv", text: "CSV" })
      ]));
    });
    list.appendChild(el("li", {}, [
      el("span", { text: t("chiefList") }),
      el("a", { href: "collections/chiefs/items" + query({ f: "csv", limit: 100000, datetime: state.asOf }), download: "chiefs.csv", text: "CSV" })
    ]));
  }

  // --- info panel -------------------------------------------------------------------------

  function table(rows, columns, translate) {
    var present = columns.filter(function (c) {
      return c === "valid_to" && rows.some(function (r) { return "valid_from" in r; }) ||
        rows.some(function (r) { return r[c] !== undefined && r[c] !== null && r[c] !== ""; });
    });
    if (!present.length && rows.length) { present = Object.keys(rows[0]).slice(0, 6); }
    var head = el("tr", {}, present.map(function (c) { return el("th", { text: column(c) }); }));
    var body = rows.map(function (row) {
      return el("tr", {}, present.map(function (c) {
        return el("td", { text: translate(c, row[c], row) });
      }));
    });
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, body)]);
  }

  function cell(key, value, row) {
    if (value === null || value === undefined || value === "") {
      return key === "valid_to" ? t("open") : "";
    }
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T00:00:00/.test(value)) { return value.slice(0, 10); }
    if (key === "level" || key === "missing_level") { return section("level")[value] || value; }
    if (CODED[key]) { return section(CODED[key])[value] || value; }
    if (typeof value === "boolean") { return section("bool")[String(value)]; }
    if (typeof value === "number" && /_m$/.test(key)) { return (value / 1000).toFixed(2) + " km"; }
    if (typeof value === "number" && Math.round(value) !== value) { return value.toFixed(1); }
    if (Array.isArray(value)) { return value.join("、"); }
    return String(value);
  }

  // One row per chief: a chief responsible for several stretches of a reach is listed once.
  function distinctRows(rows, columns) {
    var seen = {};
    return rows.filter(function (row) {
      var key = JSON.stringify(columns.map(function (c) { return row[c] === undefined ? null : row[c]; }));
      if (seen[key]) { return false; }
      seen[key] = true;
      return true;
    });
  }

  function showResult(boxId, promise, columns, emptyKey) {
    var box = $(boxId);
    box.textContent = "";
    delete box.dataset.count;
    box.dataset.asOf = state.asOf;
    box.dataset.level = state.level;
    box.appendChild(el("p", { "class": "note", text: t("loading") }));
    return promise.then(function (data) {
      var rows = (data.items || data.features && data.features.map(function (f) { return f.properties; }) || []);
      rows = distinctRows(rows, columns);
      box.textContent = "";
      box.dataset.count = String(rows.length);
      box.appendChild(rows.length ? table(rows, columns, cell) : el("p", { "class": "note", text: t(emptyKey) }));
    }).catch(function (error) {
      box.textContent = "";
      box.dataset.count = "0";
      box.appendChild(el("p", { "class": "error", text: t("unavailable") + (error.message ? "：" + error.message : "") }));
    });
  }

  function showFeature(feature) {
    var props = feature.properties || {};
    var layerId = feature.layer && feature.layer.metadata && feature.layer.metadata["rivernet:layer"] || feature.layer.id;
    var entry = legendEntries().filter(function (e) { return e.id === layerId; })[0];
    var title = entry ? (state.lang === "zh" ? entry.title_zh : entry.title_en) : t("feature");
    if (props.reach_id !== undefined && props.reach_id !== null) {
      state.selectedLayer = layerId;
      showReach(String(props.reach_id), props);
      var river = $("info-title").dataset.river;
      $("info-title").textContent = title + " · " + t("reach") + " " + props.reach_id + (river ? " · " + river : "");
      return;
    } else {
      $("info").hidden = false;
      $("info").dataset.reach = "";
      $("info-title").textContent = title;
      $("chiefs").textContent = "";
      $("partners").textContent = "";
    }
    showProps([props]);
  }

  // The attributes of the chosen feature; a reach cut into pieces (by unit or chief stretch)
  // shows each differing value, in order, separated by " | ".
  function showProps(pieces) {
    var info = $("info-props");
    info.textContent = "";
    var keys = [];
    pieces.forEach(function (p) { Object.keys(p).forEach(function (k) { if (keys.indexOf(k) < 0) { keys.push(k); } }); });
    keys.forEach(function (k) {
      var values = [];
      pieces.forEach(function (p) {
        var v = p[k] === null || p[k] === undefined ? "" : cell(k, p[k], p);
        if (values.indexOf(v) < 0) { values.push(v); }
      });
      info.appendChild(el("tr", { "data-key": k }, [el("th", { text: column(k) }), el("td", { text: values.join(" | ") })]));
    });
  }

  // Attributes that depend on the date and level (coverage status, chiefs) are fetched again
  // from the layer's collection whenever the reach, the date or the level changes.
  function refreshProps(reachId) {
    var layerId = state.selectedLayer || "reaches";
    var polygonLayers = (state.style && state.style.metadata["rivernet:polygon_layers"]) || [];
    var level = polygonLayers.indexOf(layerId) >= 0 ? polygonLevel() : state.level;
    var asked = { reach: reachId, asOf: state.asOf, level: state.level };
    var url = "collections/" + encodeURIComponent(layerId) + "/items" +
      query({ reach_id: reachId, level: level, datetime: state.asOf, limit: 1000 });
    return fetchJson(url).then(function (data) {
      if (state.selected !== asked.reach || state.asOf !== asked.asOf || state.level !== asked.level) { return; }
      var pieces = (data.features || []).map(function (f) { return f.properties || {}; });
      if (pieces.length) { showProps(pieces); }
      $("info-props").dataset.asOf = asked.asOf;
      $("info-props").dataset.level = asked.level;
    }).catch(function () { return null; });
  }

  // Partners, crossings and boundary rivers are found with unit polygons: below the finest
  // level that has polygons (townships, villages) they are shown at that finest level.
  function polygonLevel() {
    var levels = (state.style && state.style.metadata && state.style.metadata["rivernet:polygon_levels"]) || [];
    if (!levels.length || levels.indexOf(state.level) >= 0) { return state.level; }
    var finer = levels.filter(function (l) { return LEVELS.indexOf(l) < LEVELS.indexOf(state.level); });
    return finer.length ? finer[finer.length - 1] : levels[0];
  }

  function showReach(reachId, props) {
    if ($("info").hidden || $("info").dataset.reach !== reachId) {
      $("info-title").textContent = t("reach") + " " + reachId;
      delete $("info-title").dataset.river;
      $("info-props").textContent = "";
    }
    if (props) { showProps([props]); }
    delete $("info-props").dataset.asOf;
    state.selected = reachId;
    $("info").hidden = false;
    $("info").dataset.reach = reachId;
    highlightReach(reachId);
    var chiefs = fetchJson("reaches/" + encodeURIComponent(reachId) + "/chiefs" + query({ datetime: state.asOf }));
    showResult("chiefs", chiefs, CHIEF_COLUMNS, "noChiefs");
    chiefs.then(function (data) {  // the river's name (一河一档) beside the reach id, when named
      var named = (data.items || []).filter(function (row) { return row.river_name; })[0];
      var title = $("info-title");
      if (named && state.selected === reachId && !title.dataset.river) {
        title.dataset.river = named.river_name;
        title.textContent += " · " + named.river_name;
      }
    }).catch(function () { return null; });
    showResult("partners", fetchJson("partners" + query({ reach: reachId, level: polygonLevel(), datetime: state.asOf })), PARTNER_COLUMNS, "noPartners");
    refreshProps(reachId);
    document.dispatchEvent(new CustomEvent("rivernet:reach", { detail: { reachId: reachId } }));
  }

  function addSelectionLayer() {
    var map = state.map;
    if (map.getSource("selected")) { return; }
    map.addSource("selected", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({
      id: "selected", type: "line", source: "selected",
      paint: { "line-color": "#00e5ff", "line-width": 7, "line-opacity": 0.6 },
      layout: { "line-cap": "round", "line-join": "round" }
    }, map.getLayer("crossings") ? "crossings" : undefined);
  }

  function highlightReach(reachId) {
    return fetchJson("collections/reaches/items/" + encodeURIComponent(reachId)).then(function (feature) {
      var source = state.map.getSource("selected");
      if (source) { source.setData({ type: "FeatureCollection", features: [feature] }); }
      return feature;
    }).catch(function () { return null; });
  }

  function onClick(event) {
    var map = state.map;
    var p = event.point;
    var layers = [];
    state.style.layers.forEach(function (layer) {
      var id = layer.metadata && layer.metadata["rivernet:layer"];
      if (id && CLICKABLE.indexOf(id) >= 0 && !state.hidden[id] && map.getLayer(layer.id)) { layers.push(layer.id); }
    });
    // a finger needs a wider target than a mouse pointer
    var r = window.matchMedia("(pointer: coarse)").matches || window.matchMedia(NARROW).matches ? 14 : 6;
    var features = map.queryRenderedFeatures([[p.x - r, p.y - r], [p.x + r, p.y + r]], { layers: layers });
    if (!features.length) { return; }
    features.sort(function (a, b) { return CLICKABLE.indexOf(a.layer.id) - CLICKABLE.indexOf(b.layer.id); });
    showFeature(features[0]);
  }

  // --- search -----------------------------------------------------------------------------

  function fitBox(b) {
    if (!b || b.length !== 4) { return; }
    state.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 13 });
  }

  // The server's search endpoint: admin units, lakes, rivers, reaches and chiefs, each with a
  // WGS84 box to zoom to.
  function search(text) {
    var q = text.trim();
    if (!q) { return Promise.resolve([]); }
    return fetchJson("search" + query({ q: q, limit: 30 })).then(function (data) {
      return (data.items || []).map(function (item) {
        var level = item.level ? " (" + levelName(item.level) + ")" : "";
        return { kind: t(item.kind), label: item.label + (item.kind === "unit" ? level : ""), item: item, go: function () {
          fitBox(item.bbox);
          if (item.reach_id !== undefined && item.reach_id !== null) {
            state.selectedLayer = null;
            showReach(String(item.reach_id));
          }
        } };
      });
    }).catch(function (error) { status(error.message); return []; });
  }

  function showSearchResults(results) {
    var list = $("results");
    list.textContent = "";
    if (!results.length) {
      list.appendChild(el("li", { text: t("noResults") }));
    }
    results.forEach(function (r) {
      var item = el("li", { tabindex: "0", "data-kind": r.item.kind, "data-id": r.item.id }, [el("span", { "class": "kind", text: r.kind }), el("span", { text: r.label })]);
      item.addEventListener("click", function () { list.hidden = true; r.go(); });
      list.appendChild(item);
    });
    list.hidden = false;
  }

  // --- language and controls ----------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("title") + " · rivernet";
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (node) {
      node.placeholder = t(node.getAttribute("data-i18n-placeholder"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-title]"), function (node) {
      node.title = t(node.getAttribute("data-i18n-title"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-label]"), function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-label")));
    });
    $("lang").textContent = t("switchLang");
    var select = $("level");
    var current = state.level;
    select.textContent = "";
    LEVELS.forEach(function (level) {
      var option = el("option", { value: level, text: levelName(level) });
      select.appendChild(option);
    });
    select.value = current;
    renderLegend();
    updateDownloads();
    document.dispatchEvent(new Event("rivernet:language"));
  }

  function setSideOpen(open) {
    document.body.classList.toggle("side-collapsed", !open);
    $("toggle-side").setAttribute("aria-expanded", open ? "true" : "false");
    if (state.map) { state.map.resize(); }
  }

  function bindControls() {
    $("level").addEventListener("change", function (e) {
      state.level = e.target.value;
      reloadStyle();
      if (state.selected) { showReach(state.selected); }
    });
    $("asof").value = state.asOf;
    $("asof").addEventListener("change", function (e) {
      state.asOf = e.target.value || chinaToday();
      reloadStyle();
      if (state.selected) { showReach(state.selected); }
    });
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      applyLanguage();
      if (state.selected) { showReach(state.selected); }
    });
    $("toggle-side").addEventListener("click", function () { setSideOpen(document.body.classList.contains("side-collapsed")); });
    $("problems").addEventListener("change", function (e) { setProblemsOnly(e.target.checked); });
    $("close-info").addEventListener("click", function () {
      $("info").hidden = true;
      state.selected = null;
      var source = state.map.getSource("selected");
      if (source) { source.setData({ type: "FeatureCollection", features: [] }); }
    });
    $("search-form").addEventListener("submit", function (e) {
      e.preventDefault();
      search($("search").value).then(showSearchResults);
    });
  }

  // River names as HTML labels (the style has no glyphs, so the map stays offline): the style's
  // "rivernet:labels" rules say which property labels which layer from which zoom; one label
  // per name in view, on the middle of its longest visible line, at most MAX_LABELS of them.
  var MAX_LABELS = 40;
  var labelMarkers = [];
  var labelsDirty = true;

  function labelRules() {
    return (state.style && state.style.metadata && state.style.metadata["rivernet:labels"]) || [];
  }

  function middleOf(geometry) {
    var lines = geometry.type === "MultiLineString" ? geometry.coordinates : [geometry.coordinates];
    var longest = lines.reduce(function (a, b) { return b.length > a.length ? b : a; }, []);
    return { point: longest[Math.floor(longest.length / 2)], size: longest.length };
  }

  function updateLabels() {
    var map = state.map;
    labelMarkers.forEach(function (m) { m.remove(); });
    labelMarkers = [];
    var best = {};
    labelRules().forEach(function (rule) {
      if (map.getZoom() < rule.minzoom) { return; }
      var present = rule.style_layers.filter(function (id) { return map.getLayer(id); });
      if (!present.length) { return; }
      map.queryRenderedFeatures({ layers: present }).forEach(function (f) {
        var name = f.properties && f.properties[rule.property];
        if (!name || !f.geometry || f.geometry.type.indexOf("LineString") < 0) { return; }
        var here = middleOf(f.geometry);
        var seen = best[name];
        if (here.point && (!seen || here.size > seen.size)) { best[name] = here; }
      });
    });
    Object.keys(best).sort(function (a, b) { return best[b].size - best[a].size; })
      .slice(0, MAX_LABELS).forEach(function (name) {
        var node = el("span", { "class": "river-label", text: name });
        labelMarkers.push(new maplibregl.Marker({ element: node }).setLngLat(best[name].point).addTo(map));
      });
    document.body.dataset.labels = String(labelMarkers.length);
  }

  // After a roster edit (editor.js sets window.rivernetTileStamp) tiles are asked for with the
  // stamp, so no copy cached from before the edit is shown.
  function freshTiles(url) {
    if (window.rivernetTileStamp && url.indexOf("/tiles/") >= 0) {
      return { url: url + (url.indexOf("?") < 0 ? "?" : "&") + "_=" + window.rivernetTileStamp };
    }
    return { url: url };
  }

  // What the editor (editor.js) uses of this page.
  window.rivernet = {
    state: state, section: section, t: t, column: column, levelName: levelName, query: query,
    fetchJson: fetchJson, status: status, reloadStyle: reloadStyle, el: el,
    chinaToday: chinaToday,
    showReach: function (reachId) { return showReach(String(reachId)); }
  };

  function start() {
    var params = new URLSearchParams(window.location.search);
    if (params.get("lang") === "en") { state.lang = "en"; }
    if (LEVELS.indexOf(params.get("level")) >= 0) { state.level = params.get("level"); }
    if (params.get("datetime")) { state.asOf = params.get("datetime"); }
    bindControls();
    setSideOpen(!window.matchMedia(NARROW).matches);
    loadMessages().then(function () {
      applyLanguage();
      status(t("loading"));
      return loadStyle();
    }).then(function (style) {
      var map = new maplibregl.Map({
        container: "map", style: style, maxZoom: 18, attributionControl: { compact: true },
        transformRequest: freshTiles
      });
      state.map = map;
      window.rivernetMap = map;
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
      map.on("load", function () {
        addSelectionLayer();
        var b = style.metadata && style.metadata["rivernet:bounds"];
        if (b) { map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, animate: false }); }
        renderLegend();
        if (window.matchMedia(NARROW).matches) {  // credits folded to an (i) on a phone
          var credits = map.getContainer().querySelector(".maplibregl-ctrl-attrib");
          if (credits) { credits.classList.remove("maplibregl-compact-show"); }
        }
        updateDownloads();
        status("");
        document.body.dataset.ready = "1";
        document.dispatchEvent(new Event("rivernet:ready"));
      });
      map.on("moveend", updateDownloads);
      map.on("moveend", function () { labelsDirty = true; });
      map.on("styledata", function () { labelsDirty = true; });
      map.on("idle", function () { if (labelsDirty) { labelsDirty = false; updateLabels(); } });
      map.on("error", function (e) { console.error("map error: " + (e.error && e.error.message) + " " + (e.sourceId || "")); });
      map.on("click", onClick);
      map.on("mousemove", function (e) {
        var hit = map.queryRenderedFeatures([[e.point.x - 4, e.point.y - 4], [e.point.x + 4, e.point.y + 4]]);
        map.getCanvas().style.cursor = hit.some(function (f) { return CLICKABLE.indexOf(f.layer.id) >= 0; }) ? "pointer" : "";
      });
    }).catch(function (error) { status(error.message); });
  }

  start();
})();
