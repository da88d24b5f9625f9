// Run Checks: keyboard navigation, bulk selection, the run modal and its actions.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll(".check-row"));
  var checks = rows.map(function (r) { return r.querySelector(".row-check"); });
  var counter = document.getElementById("selected-count");
  var selectAll = document.getElementById("select-all");
  var modalEl = document.getElementById("run-modal");
  var modal = new bootstrap.Modal(modalEl);
  var body = document.getElementById("run-modal-body");
  var current = -1;
  var changed = false;

  function updateCount() { counter.textContent = checks.filter(function (c) { return c.checked; }).length; }
  checks.forEach(function (c) { c.addEventListener("change", updateCount); });
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      checks.forEach(function (c) { c.checked = selectAll.checked; });
      updateCount();
    });
  }
  updateCount();

  function focusRow(index) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (r, i) { r.classList.toggle("table-active", i === current); });
    rows[current].focus();
  }

  function post(url, data) {
    return window.bcFetch(url, {method: "POST", body: data, headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r; });
  }

  function alertLine(icon, text, source, state, editUrl, code) {
    var line = document.createElement("div");
    line.className = "alert-item";
    line.appendChild(document.createTextNode(icon + " "));
    if (code) {
      var strong = document.createElement("strong");
      strong.textContent = code;
      line.appendChild(strong);
      var copy = document.createElement("button");
      copy.type = "button";
      copy.className = "btn btn-link btn-sm p-0 mx-1 copy-ticket";
      copy.dataset.copy = code;
      copy.title = "Copy ticket number";
      copy.textContent = "⧉";
      line.appendChild(copy);
    }
    if (text) { line.appendChild(document.createTextNode((code ? "— " : "") + text)); }
    var meta = document.createElement("span");
    meta.className = "text-body-secondary ms-1";
    meta.textContent = "(" + (source === "run" ? "linked to this run" : "open for this job") + (state ? ", " + state : "") + ")";
    line.appendChild(meta);
    if (editUrl) {
      var link = document.createElement("a");
      link.href = editUrl;
      link.className = "ms-1";
      link.textContent = "open";
      line.appendChild(link);
    }
    return line;
  }

  function loadAlerts(card) {
    fetch(card.dataset.alertsUrl, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (alerts) {
        var box = card.querySelector(".run-alerts");
        box.textContent = "";
        alerts.tickets.forEach(function (t) {
          var state = t.autotask_deleted ? "deleted in Autotask" : (t.resolved_at ? "resolved" : "");
          box.appendChild(alertLine("🎫", t.description, t.source, state, t.url, t.code));
        });
        alerts.remarks.forEach(function (r) {
          box.appendChild(alertLine("💬", r.text, r.source, r.resolved_at ? "resolved" : "", r.url, null));
        });
      });
  }

  function showResult(element, ok, message) {
    element.textContent = message;
    element.className = element.className.replace(/ ?text-(success|danger)/g, "") + (ok ? " text-success" : " text-danger");
  }

  function wire(container) {
    container.querySelectorAll(".run-card").forEach(loadAlerts);
    container.querySelectorAll(".run-action").forEach(function (button) {
      button.addEventListener("click", function () {
        post(button.dataset.url, new FormData()).then(function () { changed = true; reload(); });
      });
    });
    container.querySelectorAll(".mark-success").forEach(function (button) {
      button.addEventListener("click", function () {
        var future = window.confirm("Also create an override so the same problem on future runs of this job counts as success?\n\nOK: yes, create the override.  Cancel: only this run.");
        var data = new FormData();
        data.append("create_override", future ? "1" : "0");
        post(button.dataset.url, data).then(function () { changed = true; reload(); });
      });
    });
    container.querySelectorAll(".create-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var result = form.querySelector(".form-result");
        window.bcFetch(form.dataset.url, {method: "POST", body: new FormData(form), headers: {"X-Requested-With": "fetch"}})
          .then(function (r) { return r.json(); })
          .then(function (answer) {
            if (answer.ok) { changed = true; reload(); } else { showResult(result, false, answer.message); }
          })
          .catch(function () { showResult(result, false, "The request failed; nothing was saved. Try again."); });
      });
    });
    container.querySelectorAll(".create-autotask").forEach(function (button) {
      button.addEventListener("click", function () {
        var result = button.parentNode.querySelector(".action-result");
        button.disabled = true;
        showResult(result, true, "Creating the ticket in Autotask…");
        window.bcFetch(button.dataset.url, {method: "POST", body: new FormData(), headers: {"X-Requested-With": "fetch", "Accept": "application/json"}})
          .then(function (r) { return r.json(); })
          .then(function (answer) {
            if (answer.ok) { changed = true; reload(); } else { button.disabled = false; showResult(result, false, answer.message); }
          })
          .catch(function () { button.disabled = false; showResult(result, false, "Autotask could not be reached; no ticket was stored. Try again."); });
      });
    });
    var reviewForm = container.querySelector(".review-job-form");
    if (reviewForm) {
      reviewForm.addEventListener("submit", function (event) {
        event.preventDefault();
        post(reviewForm.action, new FormData(reviewForm)).then(function () { changed = true; modal.hide(); });
      });
    }
  }

  var openUrl = null;
  function reload() {
    fetch(openUrl, {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) { body.innerHTML = html; wire(body); });
  }
  function openRow(row) {
    openUrl = row.dataset.detailUrl;
    body.textContent = "Loading…";
    modal.show();
    reload();
  }
  modalEl.addEventListener("hidden.bs.modal", function () { if (changed) { window.location.reload(); } });

  rows.forEach(function (row, index) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("input, a, label")) { return; }
      focusRow(index);
      openRow(row);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (modalEl.classList.contains("show") || event.target.closest("input, select, textarea")) { return; }
    if (event.key === "j") { focusRow(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focusRow(current - 1); event.preventDefault(); }
    else if (event.key === "x" && current >= 0) { checks[current].checked = !checks[current].checked; updateCount(); }
    else if (event.key === "Enter" && current >= 0) { openRow(rows[current]); event.preventDefault(); }
    else if (event.key === "r" && current >= 0) {
      var data = new FormData();
      data.append("job_ids", rows[current].dataset.jobId);
      post(document.getElementById("bulk-review").getAttribute("formaction"), data).then(function () {
        rows[current].classList.add("text-decoration-line-through", "opacity-50");
        focusRow(current + 1);
      });
    }
  });
})();
