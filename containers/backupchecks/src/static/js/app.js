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

  // Copy a ticket number: the Clipboard API, then execCommand on a hidden textarea (older browsers
  // and Edge without a secure context), then a prompt to copy by hand. The button shows ✓ for 800 ms.
  function copyWithTextarea(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(area);
    return copied;
  }
  function copied(button) {
    var label = button.textContent;
    button.textContent = "✓";
    button.classList.add("copied");
    setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 800);
  }
  window.bcCopyText = function (text, button) {
    function fallback() {
      if (copyWithTextarea(text)) { copied(button); return; }
      window.prompt("Copy the ticket number:", text);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, fallback);
    } else {
      fallback();
    }
  };
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".copy-ticket");
    if (!button) { return; }
    event.preventDefault();
    event.stopPropagation();
    window.bcCopyText(button.dataset.copy, button);
  });
})();
