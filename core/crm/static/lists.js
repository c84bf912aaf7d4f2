/* The list pages' tools (templates/lists.html): the select-all checkbox, the count of rows
   ticked, and the mass-action form showing only the inputs of the action and field chosen. */
(function () {
  "use strict";
  function boxes() { return document.querySelectorAll('input[name="ids"][form="mass-form"]'); }
  function count() {
    var n = 0;
    boxes().forEach(function (b) { if (b.checked) { n += 1; } });
    document.querySelectorAll("[data-selected-count]").forEach(function (el) { el.textContent = String(n); });
  }
  function showParts(form) {
    var action = form.querySelector("[data-mass-action]");
    var field = form.querySelector("[data-mass-field]");
    form.querySelectorAll("[data-mass-part]").forEach(function (part) {
      part.hidden = !action || part.getAttribute("data-mass-part") !== action.value;
    });
    form.querySelectorAll("[data-mass-value]").forEach(function (part) {
      part.hidden = !field || part.getAttribute("data-mass-value") !== field.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.querySelector("[data-select-all]");
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        count();
      });
    }
    boxes().forEach(function (b) { b.addEventListener("change", count); });
    var form = document.getElementById("mass-form");
    if (form) {
      form.addEventListener("change", function () { showParts(form); });
      showParts(form);
    }
    count();
  });
})();
