/* The little JavaScript of the CRM: CSRF header for htmx, confirmations, the menu on
   small screens, the line editor (add / remove / reorder lines, the item picker) and
   charts. No arithmetic here: totals come from the server (/<documents>/preview). */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');

  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) { event.detail.headers["X-CSRFToken"] = csrf.content; }
  });

  // Forms that ask before they change something.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  // Buttons that print the page (the policy refuses onclick="window.print()").
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".menu-toggle");
    var sidebar = document.getElementById("sidebar");
    if (toggle && sidebar) {
      toggle.addEventListener("click", function () {
        var open = sidebar.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    var form = document.getElementById("doc-form");
    if (form) { lineEditor(form); }
    drawCharts();
  });

  // --- the line editor --------------------------------------------------------------------
  function lineEditor(form) {
    var body = document.getElementById("lines");
    var counter = 0;
    var recompute = function () { form.dispatchEvent(new Event("recompute", { bubbles: true })); };
    // typing recomputes the totals (htmx waits for a pause: "typed ... delay"), except in the
    // item search box, which only searches
    form.addEventListener("input", function (event) {
      if (!event.target.classList || !event.target.classList.contains("item-search")) {
        form.dispatchEvent(new Event("typed"));
      }
    });

    function addRow(kind) {
      var template = document.getElementById((kind || "line") + "-template");
      counter += 1;
      var key = "n" + Date.now().toString(36).slice(-5) + counter;
      var html = template.innerHTML.split("__KEY__").join(key);
      var holder = document.createElement("tbody");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      body.appendChild(row);
      if (window.htmx) { window.htmx.process(row); }
      var first = row.querySelector(".item-search, input[type=text], input:not([type=hidden])");
      if (first) { first.focus(); }
      recompute();
    }

    function move(row, up) {
      var other = up ? row.previousElementSibling : row.nextElementSibling;
      if (!other) { return; }
      if (up) { body.insertBefore(row, other); } else { body.insertBefore(other, row); }
      recompute();
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      var row = button.closest("tr.line");
      if (button.classList.contains("add-line")) { addRow(button.getAttribute("data-kind")); }
      else if (row && button.classList.contains("remove-line")) {
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        if (next) { var focus = next.querySelector("input:not([type=hidden])"); if (focus) { focus.focus(); } }
        recompute();
      }
      else if (row && button.classList.contains("move-up")) { move(row, true); button.focus(); }
      else if (row && button.classList.contains("move-down")) { move(row, false); button.focus(); }
    });

    form.addEventListener("keydown", function (event) {
      var row = event.target.closest && event.target.closest("tr.line");
      if (row && event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        event.preventDefault();
        move(row, event.key === "ArrowUp");
        event.target.focus();
      }
    });

    var mode = form.querySelector('[name="tax_mode"]');
    if (mode) {
      mode.addEventListener("change", function () { form.setAttribute("data-tax-mode", mode.value); });
    }
    itemPicker(form, recompute);
    partyChoices(form, recompute);
    if (body.querySelector("tr.line") && !body.querySelector("output.num:not(:empty)")) { recompute(); }
  }

  // --- the party: its contacts, and its addresses unless the user typed others ------------------
  function partyChoices(form, recompute) {
    var party = document.getElementById("f-party");
    var contact = document.getElementById("f-contact");
    var data = document.getElementById("party-addresses");
    var url = form.getAttribute("data-party-url");
    if (!party || !contact || !url) { return; }
    var given = data ? JSON.parse(data.textContent) : {};  // what the current party gave
    var ticket = 0;

    function partsOf(name) {
      var set = form.querySelector('fieldset[data-address="' + name + '"]');
      return set ? Array.prototype.slice.call(set.querySelectorAll("input[data-part]")) : [];
    }
    function untouched(name) {  // blank, or still what the previous party gave
      var before = given[name] || {};
      return partsOf(name).every(function (input) {
        return !input.value.trim() || input.value === (before[input.getAttribute("data-part")] || "");
      });
    }
    function fill(answer) {
      ["billing_address", "shipping_address"].forEach(function (name) {
        if (!(name in answer)) { return; }
        if (untouched(name)) {
          partsOf(name).forEach(function (input) { input.value = answer[name][input.getAttribute("data-part")] || ""; });
        }
        given[name] = answer[name];
      });
      var chosen = contact.value;
      contact.querySelectorAll("option[value]:not([value=''])").forEach(function (o) { o.remove(); });
      (answer.contacts || []).forEach(function (c) {
        var option = document.createElement("option");
        option.value = String(c.id);
        option.textContent = c.name;
        option.selected = option.value === chosen;
        contact.appendChild(option);
      });
      if (contact.value !== chosen) { contact.value = ""; }
      recompute();
    }

    party.addEventListener("change", function () {
      ticket += 1;
      var mine = ticket;  // a late answer for an earlier choice is dropped
      if (!party.value) { fill({ contacts: [] }); return; }
      fetch(url + "?id=" + encodeURIComponent(party.value),
            { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) { if (answer && mine === ticket) { fill(answer); } });
    });
  }

  // --- the item picker: a combobox whose options the server renders ----------------------------
  function itemPicker(form, recompute) {
    var url = form.getAttribute("data-search-url");
    var timer = null;

    function listOf(input) { return document.getElementById(input.getAttribute("aria-controls")); }
    function options(list) { return Array.prototype.slice.call(list.querySelectorAll('[role="option"][data-id]')); }
    function close(input) {
      var list = listOf(input);
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(input, option) {
      options(listOf(input)).forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
      if (option) { input.setAttribute("aria-activedescendant", option.id); option.scrollIntoView({ block: "nearest" }); }
    }
    function search(input) {
      var list = listOf(input);
      var ticket = (input.crmTicket || 0) + 1;  // answers that come back late are dropped
      input.crmTicket = ticket;
      var mode = form.querySelector('[name="tax_mode"]');
      var book = form.querySelector('[name="price_book_id"]');
      var query = url + "&list=" + encodeURIComponent(list.id) + "&q=" + encodeURIComponent(input.value) +
        "&tax_mode=" + encodeURIComponent(mode ? mode.value : "individual") +
        "&price_book_id=" + encodeURIComponent(book ? book.value : "");
      fetch(query, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (input.crmTicket !== ticket || document.activeElement !== input) { return; }
          list.innerHTML = html;
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
          highlight(input, options(list)[0]);
        });
    }
    function choose(input, option) {
      var row = input.closest("tr.line");
      row.querySelector(".item-id").value = option.getAttribute("data-id");
      input.value = option.getAttribute("data-label");
      var price = row.querySelector(".price");
      if (price) { price.value = option.getAttribute("data-price"); }
      var taxes = (option.getAttribute("data-taxes") || "").split(",");
      row.querySelectorAll('.tax-checks input[type="checkbox"]').forEach(function (box) {
        box.checked = taxes.indexOf(box.value) !== -1;
      });
      var hiddenTaxes = row.querySelector(".hidden-taxes");  // the taxes column is hidden: hidden inputs
      if (hiddenTaxes) {
        hiddenTaxes.innerHTML = "";
        taxes.forEach(function (id) {
          if (!id) { return; }
          var input = document.createElement("input");
          input.type = "hidden";
          input.name = hiddenTaxes.getAttribute("data-name");
          input.value = id;
          hiddenTaxes.appendChild(input);
        });
      }
      input.crmTicket = (input.crmTicket || 0) + 1;
      close(input);
      var quantity = row.querySelector(".qty");
      if (quantity) { quantity.focus(); quantity.select(); }
      recompute();
    }

    form.addEventListener("input", function (event) {
      var input = event.target;
      if (!input.classList || !input.classList.contains("item-search")) { return; }
      input.closest("tr.line").querySelector(".item-id").value = "";
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { search(input); }, 200);
    });
    form.addEventListener("focusin", function (event) {
      var input = event.target;
      if (input.classList && input.classList.contains("item-search") && !input.value) { search(input); }
    });
    form.addEventListener("keydown", function (event) {
      var input = event.target;
      if (!input.classList || !input.classList.contains("item-search")) { return; }
      var list = listOf(input);
      var all = options(list);
      var current = list.querySelector('[aria-selected="true"]');
      var index = all.indexOf(current);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { search(input); return; }
        index = event.key === "ArrowDown" ? Math.min(all.length - 1, index + 1) : Math.max(0, index - 1);
        highlight(input, all[index]);
      } else if (event.key === "Enter") {
        if (!list.hidden) {
          event.preventDefault();
          if (current) { choose(input, current); }
        }
      } else if (event.key === "Escape") {
        close(input);
      }
    });
    form.addEventListener("mousedown", function (event) {
      var option = event.target.closest && event.target.closest('[role="option"][data-id]');
      if (!option) { return; }
      event.preventDefault();
      var input = form.querySelector('[aria-controls="' + option.parentElement.id + '"]');
      choose(input, option);
    });
    form.addEventListener("focusout", function (event) {
      var input = event.target;
      if (input.classList && input.classList.contains("item-search")) {
        window.setTimeout(function () { close(input); }, 150);
      }
    });
  }

  // --- charts: <canvas data-chart="id-of-a-json-script"> ---------------------------------------------
  function drawCharts() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    if (!canvases.length) { return; }
    if (!window.Chart) { window.setTimeout(drawCharts, 100); return; }
    canvases.forEach(function (canvas) {
      if (canvas.getAttribute("data-drawn")) { return; }
      canvas.setAttribute("data-drawn", "1");
      var spec = JSON.parse(document.getElementById(canvas.getAttribute("data-chart")).textContent);
      var locale = document.documentElement.lang || "en";
      new window.Chart(canvas, {
        type: spec.type === "line" ? "line" : "bar",
        data: {
          labels: spec.labels,
          datasets: spec.series.map(function (s) {
            // the server's decimal strings, drawn as numbers (display only)
            return { label: s.label, data: s.values.map(Number), backgroundColor: "#1f5fbf", borderColor: "#1f5fbf" };
          })
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false, locale: locale,
          plugins: { legend: { display: spec.series.length > 1 } },
          scales: { y: { beginAtZero: true } }
        }
      });
    });
  }
})();
