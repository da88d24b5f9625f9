// Settings tabs: "Test connection" sends the form as typed (nothing is saved) and shows the answer
// inline: the steps of a connection report, or one message (with the partner id Cove reports).
(function () {
  "use strict";
  var button = document.getElementById("test-connection");
  var out = document.getElementById("test-result");
  if (!button || !out) { return; }

  function showSteps(steps) {
    var list = document.createElement("ul");
    list.className = "list-group";
    steps.forEach(function (step) {
      var item = document.createElement("li");
      item.className = "list-group-item list-group-item-" + (step.ok ? "success" : "danger");
      item.textContent = (step.ok ? "✓ " : "✗ ") + step.name + ": " + step.message;
      list.appendChild(item);
    });
    out.appendChild(list);
  }

  function showMessage(report) {
    out.className = "mt-3 alert alert-" + (report.ok ? "success" : "danger");
    out.textContent = (report.ok ? "✓ " : "✗ ") + report.message;
    var partner = document.getElementById("partner-id");
    if (report.ok && report.partner_id && partner) {
      partner.textContent = "Partner id: ";
      var strong = document.createElement("strong");
      strong.textContent = report.partner_id;
      partner.appendChild(strong);
    }
  }

  button.addEventListener("click", function () {
    out.className = "mt-3";
    out.textContent = "Testing…";
    button.disabled = true;
    window.bcFetch(button.dataset.url, {method: "POST", body: new FormData(document.getElementById(button.dataset.form))})
      .then(function (r) { return r.json(); })
      .then(function (report) {
        out.textContent = "";
        if (report.steps) { showSteps(report.steps); } else { showMessage(report); }
      })
      .catch(function (e) { out.textContent = "The test could not run: " + e.message; })
      .finally(function () { button.disabled = false; });
  });
})();
