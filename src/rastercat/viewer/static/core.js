/* rastercat viewer, core: the map, shared state, a tiny event bus and the HTTP helpers.
 * Plain browser JavaScript, no build step; every module adds itself to window.rcViewer.
 * API calls carry the token in the Authorization header; only tile URLs (which <img> loads and
 * cannot give headers) carry it as ?token=. */
"use strict";

window.rcViewer = (function () {
  const $ = (id) => document.getElementById(id);
  const state = {
    token: null, me: null, product: null, productDoc: null, bands: {}, tiles: null,
    footprints: null, tilesLoaded: false,
  };
  const map = L.map("map", { worldCopyJump: true }).setView([20, 0], 2);
  const listeners = {};

  function on(name, fn) { (listeners[name] = listeners[name] || []).push(fn); }
  function emit(name, arg) {
    for (const fn of listeners[name] || []) {
      Promise.resolve().then(() => fn(arg)).catch((e) => report(e));
    }
  }

  /** Shown in the status bar; never thrown into the console. */
  function report(error) {
    const msg = error && error.message ? error.message : String(error);
    if (msg === "401") return;
    const bar = $("toast");
    bar.textContent = msg;
    bar.hidden = false;
    clearTimeout(report.timer);
    report.timer = setTimeout(() => { bar.hidden = true; }, 6000);
  }

  function authHeaders(extra) {
    const headers = Object.assign({}, extra || {});
    if (state.token) headers["Authorization"] = state.token;
    return headers;
  }

  async function errorDetail(r) {
    try { return (await r.json()).errors[0].detail; } catch (e) { return r.statusText || `HTTP ${r.status}`; }
  }

  /** fetch() with the token; JSON in and out (``text: true`` for a plain-text answer). */
  async function api(path, options = {}) {
    const init = Object.assign({}, options, { headers: authHeaders(options.headers) });
    if (options.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    const r = await fetch(path, init);
    if (r.status === 401) { emit("unauthorized"); throw new Error("401"); }
    if (!r.ok) throw new Error(await errorDetail(r));
    if (r.status === 204) return null;
    return options.text ? r.text() : r.json();
  }

  /** Make an element: el("td", {className: "x"}, "text", childNode). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k in node) node[k] = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  /** What the signed-in user may do with an object carrying owners / read / writers. */
  function may(level, obj) {
    if (!state.me || !obj) return false;
    const mine = new Set(state.me.principals || []);
    const has = (list) => (list || []).some((x) => mine.has(x));
    if (level === "own") return has(obj.owners);
    if (level === "write") return has(obj.owners) || has(obj.writers);
    return has(obj.owners) || has(obj.writers) || has(obj.read);
  }

  function shortId(id) { return String(id).split(":").slice(-1)[0]; }
  function day(iso) { return iso ? String(iso).slice(0, 10) : "—"; }

  /** A modal question; resolves true when confirmed. */
  function confirmDialog(title, message, okLabel) {
    const dlg = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-message").textContent = message;
    $("confirm-ok").textContent = okLabel || "OK";
    dlg.returnValue = "";  // Escape closes it without a value: that must not count as the last OK
    dlg.showModal();
    return new Promise((resolve) => {
      dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    });
  }

  return { $, state, map, on, emit, api, el, may, report, shortId, day, confirmDialog };
})();
