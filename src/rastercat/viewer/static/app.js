/* rastercat viewer, start-up: sign in, the product list, and choosing a product.
 * Loaded last: the other modules have registered their event handlers by now. */
"use strict";

(function (rc) {
  const { $, state, api, emit, on } = rc;

  function showSignIn(message) {
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
  }
  on("unauthorized", () => showSignIn("Your token was not accepted."));

  async function signIn(token) {
    state.token = token;
    const me = await api("/whoami");
    state.me = me;
    localStorage.setItem("rastercat.token", token);
    $("signin").hidden = true;
    $("whoami").textContent = me.name;
    $("signout").hidden = false;
    await loadProducts();
    emit("signed-in", me);
    // Back where this browser left off, when that product is still there; a user with a single
    // product (e.g. the local user after `rastercat demo`) sees it at once.
    const ids = Object.keys(state.products);
    const last = localStorage.getItem("rastercat.product");
    const first = state.products[last] ? last : ids.length === 1 ? ids[0] : null;
    if (first && !state.product) {
      $("product").value = first;
      await chooseProduct(first);
    }
  }

  async function start() {
    const saved = localStorage.getItem("rastercat.token");
    if (saved) {
      try { await signIn(saved); return; } catch (e) { localStorage.removeItem("rastercat.token"); }
    }
    try {
      // A local sign-in exists only on the machine `rastercat serve` runs on: ask first, so no
      // request ends in a 404 (and a console error) elsewhere.
      const config = await (await fetch("/viewer/v1/config")).json();
      if (config.local_sign_in) {
        const r = await fetch("/viewer/v1/local-token");
        if (r.ok) { await signIn((await r.json()).token); return; }
      }
    } catch (e) { /* no local sign-in */ }
    showSignIn();
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await signIn($("token-input").value.trim()); }
    catch (e) { showSignIn("Sign-in failed: " + (e.message === "401" ? "the token was not accepted" : e.message)); }
  });
  $("signout").addEventListener("click", async () => {
    localStorage.removeItem("rastercat.token");
    // Nothing of this user stays on the map or in the panel for the next one.
    await chooseProduct("").catch(rc.report);
    $("product").length = 1;
    $("uploads").replaceChildren();
    $("transfers").replaceChildren();
    $("whoami").textContent = "";
    $("signout").hidden = true;
    state.token = null;
    state.me = null;
    state.products = {};
    showSignIn();
  });

  // ---- products ---------------------------------------------------------------------------
  async function loadProducts(select) {
    const products = await api("/metadata/v1/products/search", { method: "POST", json: {} });
    state.products = Object.fromEntries(products.map((p) => [p.id, p]));
    const list = $("product");
    const keep = select !== undefined ? select : list.value;
    list.length = 1;
    for (const p of products) {
      list.appendChild(rc.el("option", {
        value: p.id, textContent: p.title ? `${p.title} (${rc.shortId(p.id)})` : p.id,
      }));
    }
    list.value = state.products[keep] ? keep : "";
  }
  rc.loadProducts = loadProducts;

  async function chooseProduct(pid) {
    rc.map.closePopup();
    state.product = pid || null;
    if (pid) localStorage.setItem("rastercat.product", pid);
    state.productDoc = pid ? state.products[pid] : null;
    state.bands = {};
    if (pid) {
      const bands = Object.values(await api(`/metadata/v1/bands/all/${encodeURIComponent(pid)}`));
      bands.sort((a, b) => (a.srcfile || 0) - (b.srcfile || 0) || (a.srcband || 0) - (b.srcband || 0));
      state.bands = Object.fromEntries(bands.map((b) => [b.name, b]));
    }
    $("product-title").textContent = pid ? state.productDoc.description || "" : "";
    $("display").hidden = $("search").hidden = !pid;
    emit("product", pid);
  }
  rc.chooseProduct = chooseProduct;
  $("product").addEventListener("change", () => {
    const pid = $("product").value;
    if (pid !== (state.product || "")) chooseProduct(pid).catch(rc.report);
  });

  start();
})(window.rcViewer);
