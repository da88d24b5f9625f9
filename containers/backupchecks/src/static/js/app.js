// Shared page behaviour: navbar padding and CSRF-protected fetch calls.
(function () {
  "use strict";

  // The navbar is fixed-top and wraps on narrow screens; keep the content below it.
  function adjustPadding() {
    var nav = document.getElementById("main-navbar");
    if (nav) { document.body.style.paddingTop = (nav.offsetHeight + 12) + "px"; }
  }
  window.addEventListener("resize", adjustPadding);
  document.addEventListener("DOMContentLoaded", adjustPadding);
  var collapse = document.getElementById("navbar-items");
  if (collapse) {
    collapse.addEventListener("shown.bs.collapse", adjustPadding);
    collapse.addEventListener("hidden.bs.collapse", adjustPadding);
  }

  // Every state-changing fetch must carry the CSRF token, like forms do.
  var token = document.querySelector('meta[name="csrf-token"]');
  window.bcFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({"X-CSRFToken": token ? token.content : ""}, options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };
})();
