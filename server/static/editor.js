/* rivernet web map editor: roster edits for signed-in river chief offices.
 *
 * An office signs in with its token (kept in sessionStorage for this tab only). Choosing a reach
 * on the map lists its gap and expired stretches at the chosen level, each with "appoint a
 * chief" (the form is prefilled with the reach, the stretch, the unit and the level), its
 * chiefs with "end term", its sign boards with "edit board", and its history (every chief it
 * has had, with 文号). The change log shows the audit of the office's unit. Edits go to the
 * server's edit API (POST /assignments, PATCH /assignments/{id}, POST/PATCH /boards) with
 * Authorization: Bearer and If-Match; after a save the map is redrawn from fresh tiles. Every
 * open page also follows the server's data version, so everyone's map shows a change at once.
 * Texts come from messages.json (sections editor, editor_action, board_status); none is
 * written here. */
(function () {
  "use strict";

  var KEY = "rivernet.token";
  var FIX = ["gap", "expired"];
  var ed = { token: sessionStorage.getItem(KEY) || "", me: null, reach: null, version: null };

  function R() { return window.rivernet; }
  function $(id) { return document.getElementById(id); }
  function tx(key, values) {
    var text = (R().section("editor")[key]) || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }
  function el(tag, attrs, children) { return R().el(tag, attrs, children); }
  function km(m) { return (Number(m || 0) / 1000).toFixed(2); }
  function today() { return R().chinaToday(); }
  function day(value) { return value ? String(value).slice(0, 10) : ""; }

  // --- requests -----------------------------------------------------------------------------

  function api(method, url, body, etag) {
    var headers = { Accept: "application/json" };
    if (ed.token) { headers.Authorization = "Bearer " + ed.token; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (etag) { headers["If-Match"] = etag; }
    var sep = url.indexOf("?") < 0 ? "?" : "&";
    return fetch(url + sep + "lang=" + R().state.lang, {
      method: method, headers: headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || response.statusText);
          error.status = response.status;
          error.field = data.errors && data.errors[0] && data.errors[0].parameter;
          throw error;
        }
        return { data: data, etag: response.headers.get("ETag") };
      });
    });
  }

  function canEdit(unit) {
    if (!ed.me || ed.me.role === "viewer") { return false; }
    var own = String(ed.me.unit_code || "");
    var prefix = own.replace(/^0+$/, "");
    if (prefix.length === 6 || prefix.length === 9 || prefix.length === 12) {
      while (/00$/.test(prefix) && prefix.length > 2) { prefix = prefix.slice(0, -2); }
    }
    return String(unit || "").indexOf(prefix) === 0;
  }

  // --- sign in ------------------------------------------------------------------------------

  function renderBar() {
    var box = $("editor-bar");
    box.textContent = "";
    if (!ed.me) {
      var button = el("button", { type: "button", id: "editor-signin", text: tx("signIn") });
      button.addEventListener("click", openSignIn);
      box.appendChild(button);
      return;
    }
    var role = tx("role" + ed.me.role.charAt(0).toUpperCase() + ed.me.role.slice(1));
    box.appendChild(el("span", { id: "editor-who", text: tx("signedInAs", { name: ed.me.name, unit: ed.me.unit_name || ed.me.unit_code, role: role }) }));
    var audit = el("button", { type: "button", id: "editor-audit", text: tx("audit") });
    audit.addEventListener("click", showAudit);
    var out = el("button", { type: "button", id: "editor-signout", text: tx("signOut") });
    out.addEventListener("click", function () {
      ed.token = ""; ed.me = null; sessionStorage.removeItem(KEY); renderBar(); renderReach();
    });
    box.appendChild(audit);
    box.appendChild(out);
  }

  function openSignIn() {
    var input = el("input", { id: "editor-token", type: "password", autocomplete: "off", placeholder: tx("tokenHint") });
    var message = el("p", { "class": "error", id: "editor-signin-error" });
    showDialog(tx("signIn"), [el("label", {}, [el("span", { text: tx("token") }), input]), message], function () {
      ed.token = input.value.trim();
      return signIn().then(function (ok) {
        if (!ok) { message.textContent = tx("badToken"); return false; }
        return true;
      });
    });
    input.focus();
  }

  function signIn() {
    if (!ed.token) { return Promise.resolve(false); }
    return api("GET", "auth/me").then(function (answer) {
      ed.me = answer.data;
      sessionStorage.setItem(KEY, ed.token);
      renderBar();
      renderReach();
      return true;
    }).catch(function () {
      ed.token = ""; ed.me = null; sessionStorage.removeItem(KEY); renderBar();
      return false;
    });
  }

  // --- dialogs ------------------------------------------------------------------------------

  // One modal dialog: a title, content and Save / Cancel; onSave returns a promise of true to
  // close, false to stay (its own message shown).
  function showDialog(title, content, onSave) {
    var dialog = $("editor-dialog");
    dialog.textContent = "";
    var form = el("form", { method: "dialog" }, [el("h2", { text: title })].concat(content));
    var actions = el("div", { "class": "actions" });
    if (onSave) {
      var save = el("button", { type: "submit", id: "editor-save", text: tx("save") });
      actions.appendChild(save);
    }
    var cancel = el("button", { type: "button", id: "editor-cancel", text: onSave ? tx("cancel") : R().t("close") });
    cancel.addEventListener("click", function () { dialog.close(); });
    actions.appendChild(cancel);
    form.appendChild(actions);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!onSave) { dialog.close(); return; }
      Promise.resolve(onSave()).then(function (close) { if (close) { dialog.close(); } });
    });
    dialog.appendChild(form);
    if (!dialog.open) { dialog.showModal(); }
  }

  function field(name, label, value, attrs) {
    var input = el("input", Object.assign({ name: name, id: "editor-f-" + name }, attrs || {}));
    if (value !== undefined && value !== null) { input.value = value; }
    return el("label", { "data-field": name }, [el("span", { text: label }), input]);
  }

  function formValues(form, numbers) {
    var values = {};
    Array.prototype.forEach.call(form.querySelectorAll("[name]"), function (input) {
      var v = input.value.trim();
      if (v === "") { values[input.name] = null; return; }
      values[input.name] = numbers.indexOf(input.name) >= 0 ? Number(v) : v;
    });
    return values;
  }

  // Send an edit; on failure show the problem (and mark the field it names) and stay open.
  function submit(method, url, body, etag, message) {
    Array.prototype.forEach.call(document.querySelectorAll("#editor-dialog .bad"), function (n) { n.classList.remove("bad"); });
    return api(method, url, body, etag).then(function (answer) {
      R().status(tx("saved"));
      setTimeout(function () { R().status(""); }, 2500);
      refreshMap();
      return answer;
    }).catch(function (error) {
      message.textContent = tx("failed", { detail: error.message });
      message.dataset.status = String(error.status || "");
      var bad = error.field && document.querySelector("#editor-dialog [data-field='" + error.field + "']");
      if (bad) { bad.classList.add("bad"); }
      return null;
    });
  }

  // --- the chosen reach ---------------------------------------------------------------------

  function onReach(event) {
    ed.reach = event.detail.reachId;
    renderReach();
  }

  function renderReach() {
    var box = $("editor-panel");
    if (!box) { return; }
    box.textContent = "";
    var reach = ed.reach;
    if (!reach || $("info").hidden) { return; }
    var st = R().state;
    var history = el("button", { type: "button", id: "editor-history", text: tx("history") });
    history.addEventListener("click", function () { showHistory(reach); });
    box.appendChild(el("h3", { text: tx("problemStretches") }));
    var problems = el("div", { id: "editor-problems", "class": "result" }, [el("p", { "class": "note", text: R().t("loading") })]);
    box.appendChild(problems);
    box.appendChild(el("h3", { text: tx("boards") }));
    var boards = el("div", { id: "editor-boards", "class": "result" });
    box.appendChild(boards);
    if (ed.me) {
      box.appendChild(el("h3", { text: tx("endTerm") }));
      box.appendChild(el("div", { id: "editor-chiefs", "class": "result" }));
    }
    box.appendChild(el("p", {}, [history]));
    var q = R().query({ reach_id: reach, level: st.level, datetime: st.asOf, limit: 1000 });
    R().fetchJson("collections/coverage_gaps/items" + q).then(function (data) {
      if (ed.reach !== reach) { return; }
      var rows = (data.features || []).map(function (f) { return f.properties; });
      problems.textContent = "";
      problems.dataset.count = String(rows.length);
      if (!rows.length) { problems.appendChild(el("p", { "class": "note", text: tx("noProblems") })); }
      rows.forEach(function (row) {
        var status = row.cause === "expired" ? "expired" : "gap";
        var line = el("div", { "class": "stretch", "data-status": status, "data-from": row.from_m, "data-to": row.to_m }, [
          el("span", { text: tx("stretch", { from: km(row.from_m), to: km(row.to_m) }) + " · " + (row.unit_name || row.unit_code) + " · " + (R().section("status")[status] || status) })
        ]);
        if (canEdit(row.unit_code)) {
          var appoint = el("button", { type: "button", "class": "appoint", text: tx("appoint") });
          appoint.addEventListener("click", function () { appointForm(reach, row); });
          line.appendChild(appoint);
        }
        problems.appendChild(line);
      });
    }).catch(function () { problems.textContent = ""; });
    renderBoards(reach, boards);
    if (ed.me) { renderChiefs(reach, $("editor-chiefs")); }
  }

  function renderBoards(reach, box) {
    var st = R().state;
    R().fetchJson("collections/boards/items" + R().query({ reach_id: reach, datetime: st.asOf, limit: 100 })).then(function (data) {
      var rows = (data.features || []).map(function (f) { return f.properties; });
      box.textContent = "";
      if (!rows.length) { box.appendChild(el("p", { "class": "note", text: tx("noBoards") })); }
      rows.forEach(function (row) {
        var line = el("div", { "class": "board", "data-board": row.board_id, "data-stale": String(row.stale) }, [
          el("span", { text: row.board_id + " · " + (row.name || row.person_id) + " · " + day(row.updated_on) + " · " + (R().section("board_status")[row.board_status] || "") })
        ]);
        if (ed.me && ed.me.role !== "viewer") {
          var edit = el("button", { type: "button", "class": "edit-board", text: tx("editBoard") });
          edit.addEventListener("click", function () { boardForm(reach, row); });
          line.appendChild(edit);
        }
        box.appendChild(line);
      });
      if (ed.me && ed.me.role !== "viewer") {
        var add = el("button", { type: "button", "class": "add-board", text: tx("addBoard") });
        add.addEventListener("click", function () { boardForm(reach, null); });
        box.appendChild(add);
      }
    }).catch(function () { box.textContent = ""; });
  }

  function renderChiefs(reach, box) {
    var st = R().state;
    R().fetchJson("reaches/" + encodeURIComponent(reach) + "/chiefs" + R().query({ datetime: st.asOf })).then(function (data) {
      box.textContent = "";
      (data.items || []).filter(function (row) { return canEdit(row.unit_code) && row.assignment_id; }).forEach(function (row) {
        var stretch = row.from_m === null || row.from_m === undefined ? "" : " · " + tx("stretch", { from: km(row.from_m), to: km(row.to_m) });
        var line = el("div", { "class": "chief", "data-assignment": row.assignment_id }, [
          el("span", { text: R().levelName(row.level) + " · " + row.name + " · " + (row.unit_name || "") + stretch })
        ]);
        var end = el("button", { type: "button", "class": "end-term", text: tx("endTerm") });
        end.addEventListener("click", function () { endTermForm(row); });
        line.appendChild(end);
        box.appendChild(line);
      });
    }).catch(function () { box.textContent = ""; });
  }

  // --- forms --------------------------------------------------------------------------------

  function levelSelect(value) {
    var select = el("select", { name: "level", id: "editor-f-level" });
    ["province", "city", "county", "township", "village"].forEach(function (level) {
      select.appendChild(el("option", { value: level, text: R().section("level")[level] || level }));
    });
    select.value = value;
    return el("label", { "data-field": "level" }, [el("span", { text: R().t("level") }), select]);
  }

  function appointForm(reach, row) {
    var st = R().state;
    var people = el("datalist", { id: "editor-people" });
    var person = field("person_id", tx("personId"), "", { list: "editor-people", required: "required", autocomplete: "off" });
    var message = el("p", { "class": "error" });
    var content = [
      el("p", { "class": "note", text: R().t("reach") + " " + reach + " · " + (row.unit_name || row.unit_code) }),
      person, people,
      field("role", tx("role"), ""),
      levelSelect(row.level || st.level),
      field("unit_code", R().t("unit"), row.unit_code),
      field("from_m", tx("fromM"), Math.round(row.from_m * 10) / 10, { type: "number", step: "0.1" }),
      field("to_m", tx("toM"), Math.round(row.to_m * 10) / 10, { type: "number", step: "0.1" }),
      field("valid_from", tx("validFrom"), today(), { type: "date", required: "required" }),
      field("valid_to", tx("validTo"), "", { type: "date" }),
      field("source_document", tx("sourceDocument"), "", { required: "required" }),
      field("reason", tx("reason"), ""),
      message
    ];
    showDialog(tx("appoint"), content, function () {
      var values = formValues($("editor-dialog"), ["from_m", "to_m"]);
      values.reach_id = isNaN(Number(reach)) ? reach : Number(reach);
      if (!values.role) { delete values.role; }
      return submit("POST", "assignments", values, null, message).then(function (answer) { return !!answer; });
    });
    // people of the unit at this level (current chiefs), to pick from
    var q = R().query({ unit_code: row.unit_code, level: row.level || st.level, datetime: st.asOf, limit: 200 });
    R().fetchJson("collections/chiefs/items" + q).then(function (data) {
      var seen = {};
      (data.features || []).forEach(function (f) {
        var p = f.properties;
        if (seen[p.person_id]) { return; }
        seen[p.person_id] = true;
        people.appendChild(el("option", { value: p.person_id, text: p.name + " · " + (p.post || "") }));
        if (!$("editor-f-person_id").value) { $("editor-f-person_id").value = p.person_id; }
      });
      if (!$("editor-f-role").value && data.features && data.features[0]) { $("editor-f-role").value = data.features[0].properties.role; }
    }).catch(function () { return null; });
  }

  function endTermForm(row) {
    var message = el("p", { "class": "error" });
    api("GET", "assignments/" + encodeURIComponent(row.assignment_id)).then(function (answer) {
      var a = answer.data;
      showDialog(tx("endTerm"), [
        el("p", { "class": "note", text: row.name + " · " + R().levelName(a.level) + " · " + (a.source_document || "") }),
        field("valid_to", tx("validTo"), today(), { type: "date", required: "required" }),
        field("source_document", tx("sourceDocument"), a.source_document || ""),
        field("reason", tx("reason"), ""),
        message
      ], function () {
        var values = formValues($("editor-dialog"), []);
        return submit("PATCH", "assignments/" + encodeURIComponent(row.assignment_id), values, answer.etag, message)
          .then(function (done) { return !!done; });
      });
    }).catch(function (error) { R().status(tx("failed", { detail: error.message })); });
  }

  function boardForm(reach, row) {
    var message = el("p", { "class": "error" });
    var st = R().state;
    function form(board, etag) {
      showDialog(board ? tx("editBoard") + " " + board.board_id : tx("addBoard"), [
        field("person_id", tx("personId"), board ? board.person_id : "", { required: "required" }),
        levelSelect(board ? board.level : st.level),
        field("measure_m", tx("measureM"), board ? board.measure_m : 0, { type: "number", step: "0.1" }),
        field("updated_on", tx("updatedOn"), today(), { type: "date", required: "required" }),
        field("reason", tx("reason"), ""),
        message
      ], function () {
        var values = formValues($("editor-dialog"), ["measure_m"]);
        if (!board) {
          values.reach_id = isNaN(Number(reach)) ? reach : Number(reach);
          return submit("POST", "boards", values, null, message).then(function (done) { return !!done; });
        }
        return submit("PATCH", "boards/" + encodeURIComponent(board.board_id), values, etag, message)
          .then(function (done) { return !!done; });
      });
    }
    if (!row) { form(null, null); return; }
    api("GET", "boards/" + encodeURIComponent(row.board_id)).then(function (answer) {
      form(answer.data, answer.etag);
    }).catch(function (error) { R().status(tx("failed", { detail: error.message })); });
  }

  // --- history and audit --------------------------------------------------------------------

  var HISTORY_COLUMNS = ["valid_from", "valid_to", "level", "role", "name", "unit_name", "source_document"];
  var AUDIT_COLUMNS = ["at", "actor", "action", "table", "row_id", "source_document", "reason"];

  function grid(rows, columns, names) {
    var head = el("tr", {}, columns.map(function (c) { return el("th", { text: names[c] || R().column(c) }); }));
    var body = rows.map(function (row) {
      return el("tr", {}, columns.map(function (c) {
        var v = row[c];
        if (c === "action") { v = R().section("editor_action")[v] || v; }
        else if (c === "level") { v = R().section("level")[v] || v; }
        else if (c === "at") { v = String(v || "").replace("T", " ").slice(0, 19); }
        else if (/^valid_/.test(c)) { v = day(v) || (c === "valid_to" ? R().t("open") : ""); }
        return el("td", { text: v === null || v === undefined ? "" : String(v) });
      }));
    });
    return el("div", { "class": "scroll" }, [el("table", { "class": "grid" }, [el("thead", {}, [head]), el("tbody", {}, body)])]);
  }

  function showHistory(reach) {
    api("GET", "reaches/" + encodeURIComponent(reach) + "/history").then(function (answer) {
      var rows = answer.data.items || [];
      var names = { valid_from: tx("validFrom"), valid_to: tx("validTo"), source_document: tx("sourceDocument") };
      showDialog(tx("history") + " · " + R().t("reach") + " " + reach,
        [rows.length ? grid(rows, HISTORY_COLUMNS, names) : el("p", { "class": "note", text: tx("noHistory") })], null);
      $("editor-dialog").dataset.view = "history";
      $("editor-dialog").dataset.count = String(rows.length);
    }).catch(function (error) { R().status(tx("failed", { detail: error.message })); });
  }

  function showAudit() {
    var unit = ed.me ? ed.me.unit_code : "";
    api("GET", "audit" + R().query({ unit: unit, limit: 200 })).then(function (answer) {
      var rows = answer.data.items || [];
      var names = { at: tx("at"), actor: tx("actor"), action: tx("action"), table: tx("row"), row_id: R().column("id") === "id" ? "#" : R().column("id"), source_document: tx("sourceDocument"), reason: tx("reason") };
      showDialog(tx("auditOf", { unit: (ed.me && (ed.me.unit_name || ed.me.unit_code)) || "" }),
        [rows.length ? grid(rows, AUDIT_COLUMNS, names) : el("p", { "class": "note", text: tx("noAudit") })], null);
      $("editor-dialog").dataset.view = "audit";
      $("editor-dialog").dataset.count = String(rows.length);
    }).catch(function (error) { R().status(tx("failed", { detail: error.message })); });
  }

  // --- live map -----------------------------------------------------------------------------

  // Redraw from fresh tiles (a new stamp in the tile URLs passes any cached copy), and show the
  // chosen reach again.
  function refreshMap() {
    window.rivernetTileStamp = String(Date.now());
    return R().reloadStyle().then(function () {
      if (R().state.selected) { R().showReach(R().state.selected); }
    });
  }

  // Every open page follows the server's data version (a cheap request every few seconds): a
  // change made by anyone redraws the map.
  function follow() {
    fetch("version", { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (!body) { return; }
      if (ed.version !== null && body.data_version !== ed.version) { refreshMap(); }
      ed.version = body.data_version;
    }).catch(function () { return null; }).then(function () { setTimeout(follow, 3000); });
  }

  function start() {
    document.addEventListener("rivernet:reach", onReach);
    document.addEventListener("rivernet:language", function () { renderBar(); renderReach(); });
    document.addEventListener("rivernet:ready", function () {
      renderBar();
      if (ed.token) { signIn(); }
      follow();
    });
    $("close-info").addEventListener("click", function () { ed.reach = null; renderReach(); });
  }

  start();
})();
