/* rastercat viewer, managing a product: share it (readers and writers, via PATCH of the Catalog
 * API) and delete it (cascade, following the deletion task's progress). Only owners see these. */
"use strict";

(function (rc) {
  const { $, state, api, on, el } = rc;
  const CATALOG = "/metadata/v1/catalog";

  /** SHA-1 hex of a string: a user's namespace is sha1(name). crypto.subtle exists only in
   * secure contexts (https, localhost), so a plain implementation covers the rest. */
  async function sha1(text) {
    const bytes = new TextEncoder().encode(text);
    if (window.crypto && crypto.subtle) {
      const digest = await crypto.subtle.digest("SHA-1", bytes);
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    }
    const words = [];
    const len = bytes.length;
    const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[len] = 0x80;
    const bits = len * 8;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 4, bits >>> 0);
    view.setUint32(padded.length - 8, Math.floor(bits / 2 ** 32));
    let [h0, h1, h2, h3, h4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
    const rotl = (x, n) => (x << n) | (x >>> (32 - n));
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) words[i] = view.getUint32(off + i * 4);
      for (let i = 16; i < 80; i++) words[i] = rotl(words[i - 3] ^ words[i - 8] ^ words[i - 14] ^ words[i - 16], 1);
      let [a, b, c, d, e] = [h0, h1, h2, h3, h4];
      for (let i = 0; i < 80; i++) {
        const [f, k] = i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1]
          : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
        const t = (rotl(a, 5) + f + e + k + words[i]) | 0;
        [e, d, c, b, a] = [d, c, rotl(b, 30), a, t];
      }
      [h0, h1, h2, h3, h4] = [(h0 + a) | 0, (h1 + b) | 0, (h2 + c) | 0, (h3 + d) | 0, (h4 + e) | 0];
    }
    return [h0, h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, "0")).join("");
  }
  rc.sha1 = sha1;

  function showActions() {
    const own = state.product && rc.may("own", state.productDoc);
    $("product-actions").hidden = !own;
    $("share-button").hidden = !own;
    $("delete-product").hidden = !own;
  }
  on("product", showActions);

  // ---- sharing ------------------------------------------------------------------------------
  const ROLE_LABEL = { read: "reader", writers: "writer", owners: "owner" };

  // The server keeps users as user:<sha1(name)>: remember the names typed here, to show them.
  const known = () => JSON.parse(localStorage.getItem("rastercat.names") || "{}");
  function remember(entry, name) {
    localStorage.setItem("rastercat.names", JSON.stringify(Object.assign(known(), { [entry]: name })));
  }

  function describe(entry) {
    if (state.me && entry === `user:${state.me.namespace}`) return `${state.me.name} (you)`;
    const name = known()[entry];
    if (name) return `${name} (user)`;
    return entry.startsWith("user:") ? `${entry.slice(0, 13)}…` : entry;
  }

  function drawShareTable() {
    const doc = state.productDoc;
    const body = $("share-table").tBodies[0];
    body.replaceChildren();
    for (const role of ["owners", "writers", "read"]) {
      for (const entry of doc[role] || []) {
        const tr = body.insertRow();
        tr.dataset.entry = entry;
        tr.dataset.role = role;
        tr.insertCell().textContent = describe(entry);
        tr.cells[0].title = entry;
        tr.insertCell().textContent = ROLE_LABEL[role];
        const cell = tr.insertCell();
        if (role !== "owners") {
          cell.append(el("button", {
            type: "button", className: "link", textContent: "remove",
            onclick: () => changeAcl(role, (doc[role] || []).filter((x) => x !== entry)),
          }));
        }
      }
    }
  }

  async function changeAcl(role, list) {
    $("share-error").textContent = "";
    const pid = state.product;
    const global = $("share-global").checked ? "?set_global_permissions=true" : "";
    try {
      const doc = await api(`${CATALOG}/products/${encodeURIComponent(pid)}${global}`, {
        method: "PATCH", json: { [role]: list },
      });
      Object.assign(state.productDoc, doc.data.attributes);
      drawShareTable();
    } catch (e) { $("share-error").textContent = e.message; }
  }

  $("share-button").addEventListener("click", () => {
    $("share-product").textContent = state.productDoc.title || state.product;
    $("share-error").textContent = "";
    drawShareTable();
    $("share").showModal();
    $("share-name").focus();
  });

  async function addEntry() {
    const kind = $("share-kind").value, name = $("share-name").value.trim();
    if (!name) { $("share-error").textContent = "Type a name first."; return; }
    const entry = kind === "user" ? `user:${await sha1(name)}` : `${kind}:${name}`;
    if (kind === "user") remember(entry, name);
    const role = $("share-role").value;
    const list = state.productDoc[role] || [];
    if (!list.includes(entry)) await changeAcl(role, [...list, entry]);
    $("share-name").value = "";
  }
  $("share-add").addEventListener("click", () => addEntry().catch(rc.report));
  $("share-name").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); addEntry().catch(rc.report); }
  });

  // ---- deleting the product -------------------------------------------------------------------
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function deleteProduct() {
    const pid = state.product;
    const name = state.productDoc.title || pid;
    const ok = await rc.confirmDialog("Delete product",
      `Delete "${name}" with all its bands, images and files? This cannot be undone.`, "Delete product");
    if (!ok) return;
    const answer = await api(`${CATALOG}/products/${encodeURIComponent(pid)}?cascade=True`, { method: "DELETE" });
    $("deletion").hidden = false;
    $("deletion-bar").style.width = "0%";
    $("deletion-status").textContent = `deleting ${name}…`;
    await rc.loadProducts("");
    await rc.chooseProduct("");
    if (!answer || !answer.deletion_task) {
      $("deletion-bar").style.width = "100%";
      $("deletion-status").textContent = `deleted ${name}`;
      return;
    }
    const task = answer.deletion_task;
    for (;;) {
      const s = await api(`${CATALOG}/products/deletion_tasks/${encodeURIComponent(task)}`);
      const { total, deleted } = s.task.status;
      $("deletion-bar").style.width = `${total ? Math.round((deleted / total) * 100) : 100}%`;
      $("deletion-status").textContent = s.completed
        ? `deleted ${name}: ${deleted} of ${total} object${total === 1 ? "" : "s"}${s.status === "FAILURE" ? " (with errors)" : ""}`
        : `deleting ${name}: ${deleted} of ${total}…`;
      $("deletion").dataset.state = s.completed ? s.status : "RUNNING";
      if (s.completed) break;
      await sleep(400);
    }
  }
  $("delete-product").addEventListener("click", () => deleteProduct().catch(rc.report));
})(window.rcViewer);
