// Inbox: open a mail in the modal, select rows for bulk actions, follow a re-parse.
(function () {
  "use strict";
  var modalEl = document.getElementById("mail-modal");
  var modal = modalEl ? new bootstrap.Modal(modalEl) : null;
  var body = document.getElementById("mail-modal-body");

  function openMail(url) {
    body.textContent = "Loading…";
    modal.show();
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) { body.innerHTML = html; })
      .catch(function (e) { body.textContent = "Could not load the mail: " + e.message; });
  }

  // One URL for the table (the mail id 0 in it), so the page need not build fifty of them.
  var rowsBody = document.getElementById("mail-rows");
  document.querySelectorAll(".mail-row").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("input, a, button, label")) { return; }
      openMail(rowsBody.dataset.mailUrl.replace(/\/0$/, "/" + row.dataset.mailId));
    });
  });

  var checks = Array.prototype.slice.call(document.querySelectorAll(".mail-check"));
  var selectAll = document.getElementById("select-all");
  var counter = document.getElementById("selected-count");
  function updateCount() {
    if (counter) { counter.textContent = checks.filter(function (c) { return c.checked; }).length; }
  }
  checks.forEach(function (c) { c.addEventListener("change", updateCount); });
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      checks.forEach(function (c) { c.checked = selectAll.checked; });
      updateCount();
    });
  }
  updateCount();

  var progress = document.getElementById("reparse-progress");
  if (progress) {
    var bar = document.getElementById("reparse-bar");
    var label = document.getElementById("reparse-label");
    var poll = function () {
      fetch(progress.dataset.statusUrl, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          var pct = s.total ? Math.round(100 * s.done / s.total) : (s.running ? 0 : 100);
          bar.style.width = pct + "%";
          bar.textContent = pct + "%";
          if (s.running) {
            progress.classList.remove("d-none");
            label.textContent = "Re-parsing " + s.done + " of " + s.total + " mails…";
            window.setTimeout(poll, 1000);
          } else if (progress.dataset.running === "true") {
            label.textContent = s.summary || s.error || "Done.";
            bar.classList.remove("progress-bar-animated");
            window.setTimeout(function () { window.location.reload(); }, 1200);
          }
        });
    };
    var form = document.getElementById("reparse-all-form");
    if (form) {
      form.addEventListener("submit", function () { progress.dataset.running = "true"; });
    }
    if (progress.dataset.running === "true") { poll(); }
    // After the redirect that started a re-parse the page must follow it too.
    if (document.querySelector(".alert-info") && /Re-parsing/.test(document.querySelector(".alert-info").textContent)) {
      progress.dataset.running = "true";
      progress.classList.remove("d-none");
      poll();
    }
  }
})();
