// The registration form (受理): the live dispatch preview and the category choices of the chosen industry.
// Everything user-written or from the server is set with textContent (never innerHTML).
"use strict";
(function () {
  const form = document.getElementById("order-form") || document.getElementById("edit-form");
  if (!form) return;
  const industry = form.querySelector("select[name=industry]");
  const category = form.querySelector("select[name=category]");

  // -- categories follow the industry --------------------------------------------------------------------------
  function filterCategories() {
    if (!industry || !category) return;
    const chosen = industry.value;
    for (const group of category.querySelectorAll("optgroup")) {
      const show = !chosen || group.dataset.industry === chosen;
      group.hidden = !show;
      group.disabled = !show;
    }
    const selected = category.selectedOptions[0];
    if (chosen && selected && selected.dataset.industry && selected.dataset.industry !== chosen) {
      category.value = "";
    }
  }
  if (industry && category) {
    industry.addEventListener("change", filterCategories);
    category.addEventListener("change", () => {
      const selected = category.selectedOptions[0];
      if (selected && selected.dataset.industry && !industry.value) {
        industry.value = selected.dataset.industry;
        filterCategories();
      }
    });
    filterCategories();
  }

  // -- the live preview ----------------------------------------------------------------------------------------
  const url = form.dataset.preview;
  const box = document.getElementById("preview");
  if (!url || !box) return;
  const labels = {
    unit: box.dataset.labelUnit || "",
    district: box.dataset.labelDistrict || "",
    colon: box.dataset.colon || ": ",
  };
  let timer = null;
  let seq = 0;

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value || "";
    return el;
  }

  function render(p) {
    const target = document.getElementById("preview-target");
    target.replaceChildren();
    if (p.unit) {
      target.append(labels.unit + labels.colon);
      const strong = document.createElement("strong");
      strong.id = "preview-unit";
      strong.textContent = p.unit_name || "";
      const from = document.createElement("small");
      from.id = "preview-from";
      from.textContent = " (" + (p.unit_from_label || "") + ")";
      target.append(strong, from);
    } else {
      const reason = document.createElement("span");
      reason.id = "preview-reason";
      reason.textContent = p.reason_text || "";
      target.append(reason);
    }
    text("preview-district", labels.district + labels.colon + (p.district_name || ""));
    document.getElementById("preview-urgent").hidden = !p.urgent;
    const list = document.getElementById("preview-duplicates");
    list.replaceChildren();
    for (const d of p.duplicates || []) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = d.url;
      a.textContent = d.number;
      li.append(a, " · " + (d.created_at || "") + " · " + (d.address || "") + " · " + (d.state_label || ""));
      list.append(li);
    }
    document.getElementById("preview-no-duplicates").hidden = (p.duplicates || []).length > 0;
  }

  async function refresh() {
    const mine = ++seq;
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (name !== "csrf" && typeof value === "string") params.append(name, value);
    }
    try {
      const resp = await fetch(url + "?" + params.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!resp.ok || mine !== seq) return;
      render(await resp.json());
      box.dataset.state = "fresh";
    } catch (err) {
      box.dataset.state = "stale";
    }
  }

  function schedule() {
    box.dataset.state = "pending";
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
