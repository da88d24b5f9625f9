// Ticket and remark forms: show the scope fields that apply, and load the chosen job's objects.
(function () {
  "use strict";
  document.querySelectorAll(".scope-fields").forEach(function (box) {
    var type = box.querySelector("select[name='scope_type']");
    var job = box.querySelector(".scope-job");
    var object = box.querySelector(".scope-object");
    var objectsUrl = box.dataset.objectsUrl;

    function showParts() {
      box.querySelectorAll(".scope-part").forEach(function (part) {
        part.hidden = part.dataset.for.split(" ").indexOf(type.value) < 0;
      });
    }

    function loadObjects() {
      object.textContent = "";
      var first = document.createElement("option");
      first.value = "";
      first.textContent = job.value ? "— choose an object —" : "— choose the job first —";
      object.appendChild(first);
      if (!job.value || type.value !== "object") { return; }
      fetch(objectsUrl.replace(/\/0\/objects$/, "/" + job.value + "/objects"), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (items) {
          items.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.id;
            option.textContent = item.name + (item.type ? " (" + item.type + ")" : "");
            option.selected = String(item.id) === object.dataset.selected;
            object.appendChild(option);
          });
          if (!items.length) { first.textContent = "— this job has no objects —"; }
        });
    }

    type.addEventListener("change", function () { showParts(); loadObjects(); });
    job.addEventListener("change", loadObjects);
    showParts();
    loadObjects();
  });
})();
