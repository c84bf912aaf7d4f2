// The global search box at the top of every page (templates/base.html): "/" or Ctrl+K (⌘K)
// focuses it; typing asks /search/suggest for a few records of each kind, shown as a listbox
// (combobox pattern: ↑ ↓ move, Enter opens the chosen record or, with none chosen, the results
// page, Escape closes). Titles and details are put in as text, never as HTML.
(function () {
  "use strict";
  var form = document.querySelector("form.global-search");
  if (!form) { return; }
  var input = form.querySelector("input[name=q]");
  var list = form.querySelector(".global-search-list");
  var status = form.querySelector("[data-search-status]");
  var suggestUrl = form.getAttribute("data-suggest");
  var timer = null, controller = null, active = -1, lastQuery = null;

  function editable(element) {
    if (!element) { return false; }
    var tag = element.tagName;
    return element.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  document.addEventListener("keydown", function (event) {
    var key = event.key;
    var ctrlK = (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && key && key.toLowerCase() === "k";
    var slash = key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !editable(event.target);
    if (ctrlK || slash) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  function options() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    var all = options();
    if (!all.length) { return; }
    active = (index + all.length) % all.length;
    all.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({block: "nearest"});
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function option(id, url, title, detail, inactive) {
    var link = element("a", "global-search-option");
    link.id = id;
    link.href = url;
    link.tabIndex = -1;
    link.setAttribute("role", "option");
    link.setAttribute("aria-selected", "false");
    link.appendChild(element("span", "title", title));
    if (inactive) { link.appendChild(element("span", "badge", form.getAttribute("data-inactive") || "—")); }
    if (detail) { link.appendChild(element("span", "detail", detail)); }
    return link;
  }

  function render(data) {
    list.textContent = "";
    active = -1;
    input.removeAttribute("aria-activedescendant");
    var count = 0;
    data.groups.forEach(function (group, g) {
      var box = element("div", "global-search-group");
      box.setAttribute("role", "group");
      var heading = element("div", "global-search-heading", group.label);
      heading.id = "global-search-group-" + g;
      box.setAttribute("aria-labelledby", heading.id);
      box.appendChild(heading);
      group.hits.forEach(function (hit) {
        box.appendChild(option("global-search-option-" + (count++), hit.url, hit.title || ("#" + hit.id), hit.detail, hit.inactive));
      });
      if (group.more) {
        box.appendChild(option("global-search-option-" + (count++), group.url, form.getAttribute("data-more") + " " + group.label.toLowerCase(), "", false));
      }
      list.appendChild(box);
    });
    if (data.message) {
      list.appendChild(element("div", "global-search-message", data.message));
    }
    if (data.groups.length) {
      list.appendChild(option("global-search-option-" + (count++), data.results_url, form.getAttribute("data-all"), "", false));
    }
    var hits = data.groups.reduce(function (sum, group) { return sum + group.hits.length; }, 0);
    status.textContent = data.message || (form.getAttribute("data-count") || "").replace("%(count)s", String(hits));
    var open = data.groups.length > 0 || !!data.message;
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function ask() {
    var q = input.value.trim();
    if (q === lastQuery && !list.hidden) { return; }
    lastQuery = q;
    if (!q) { close(); return; }
    if (controller) { controller.abort(); }
    controller = new AbortController();
    fetch(suggestUrl + "?q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}, signal: controller.signal, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && input.value.trim() === q) { render(data); } })
      .catch(function () { /* aborted by a newer query, or offline: the form still submits */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (list.hidden) { lastQuery = null; ask(); return; }
      event.preventDefault();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && active >= 0 && !list.hidden) {
      var chosen = options()[active];
      if (chosen) {
        event.preventDefault();
        window.location.assign(chosen.href);
      }
    } else if (event.key === "Escape") {
      if (!list.hidden) { event.preventDefault(); close(); }
      else if (input.value) { input.value = ""; lastQuery = null; }
      else { input.blur(); }
    }
  });

  // a click on an option follows its link; keep the focus in the box until then
  list.addEventListener("mousedown", function (event) { event.preventDefault(); });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
  input.addEventListener("focus", function () { if (input.value.trim() && lastQuery !== null) { lastQuery = null; ask(); } });
})();
