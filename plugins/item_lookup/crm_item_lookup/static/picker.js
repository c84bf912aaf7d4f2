/* Item lookup: browse products, bundles and services like an online shop (facets with counts,
   kind, switches, text, A-Z, sortable columns, pages), enter a quantity and a price per row,
   tick rows and add them all at once.

   In the line editor the ticked items become editor rows (saved with the document, totals
   recomputed by the server's preview); on a saved document's page they are appended at once
   with POST /item-lookup/json/<documents>/<id>/lines and the page reloads. No arithmetic here:
   each row's price is the one the server gives (``item.price``: the price book's, chosen in the
   editor or in the picker, where it lists the item; the purchase cost on purchase orders). */
(function () {
  "use strict";
  if (window.crmItemLookup) { return; }
  window.crmItemLookup = true;

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { node.textContent = value; }
      else if (key === "className") { node.className = value; }
      else { node.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] !== undefined ? values[key] : all;
    });
  }

  /* "12,50" (a decimal comma) -> "12.50"; anything else is kept for the server to judge. */
  function decimalText(value) {
    var text = String(value || "").trim().replace(/\s/g, "");
    if (/^-?\d+,\d+$/.test(text)) { text = text.replace(",", "."); }
    return text;
  }
  function isPositive(text) { return /^\d+(\.\d+)?$/.test(text) && Number(text) > 0; }
  function isPrice(text) { return /^\d+(\.\d+)?$/.test(text); }

  function Picker(dialog, config) {
    this.dialog = dialog;
    this.config = config;
    this.s = config.strings;
    this.state = { kind: config.defaultKind || "product", q: "", facets: {}, vendor: "", switches: {},
                   letter: "", sort: "name", page: 1 };
    this.selection = {};   // item id -> {item, quantity, price}
    this.edits = {};       // item id -> {quantity, price} typed into a row
    this.onDocument = {};
    this.ticket = 0;
    this.result = null;
    this.timer = null;
    this.vendorsLoaded = false;
    this.showAll = {};
    this.bind();
  }

  Picker.prototype.$ = function (selector) { return this.dialog.querySelector(selector); };
  Picker.prototype.$$ = function (selector) { return Array.prototype.slice.call(this.dialog.querySelectorAll(selector)); };

  Picker.prototype.bind = function () {
    var self = this;
    this.$$(".il-kind input").forEach(function (radio) {
      radio.checked = radio.value === self.state.kind;
      radio.addEventListener("change", function () {
        if (!radio.checked) { return; }
        self.state.kind = radio.value;
        self.state.facets = {};
        self.state.page = 1;
        self.refresh();
      });
    });
    var q = this.$(".il-q");
    q.addEventListener("input", function () {
      window.clearTimeout(self.timer);
      self.timer = window.setTimeout(function () { self.state.q = q.value; self.state.page = 1; self.refresh(); }, 250);
    });
    q.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        window.clearTimeout(self.timer);
        self.state.q = q.value; self.state.page = 1; self.refresh();
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        self.focusRow(0, ".il-qty");
      }
    });
    this.$(".il-vendor").addEventListener("change", function (event) {
      self.state.vendor = event.target.value; self.state.page = 1; self.refresh();
    });
    var book = this.$(".il-book");
    if (book) { book.addEventListener("change", function () { self.refresh(); }); }
    var where = this.$(".il-location");
    if (where) { where.addEventListener("change", function () { self.state.page = 1; self.refresh(); }); }
    this.$$(".il-switch").forEach(function (box) {
      box.addEventListener("change", function () {
        self.state.switches[box.value] = box.checked; self.state.page = 1; self.refresh();
      });
    });
    this.$$(".il-letter").forEach(function (button) {
      button.addEventListener("click", function () {
        self.state.letter = button.getAttribute("data-letter");
        self.$$(".il-letter").forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
        self.state.page = 1;
        self.refresh();
      });
    });
    this.$(".il-close").addEventListener("click", function () { self.dialog.close(); });
    this.$(".il-add").addEventListener("click", function () { self.commit(false); });
    this.$(".il-add-shown").addEventListener("click", function () { self.commit(true); });
    this.$(".il-facets").addEventListener("change", function (event) {
      var box = event.target;
      if (!box.matches("input[data-param]")) { return; }
      var position = box.getAttribute("data-param");
      var chosen = self.state.facets[position] || [];
      chosen = chosen.filter(function (v) { return v !== box.value; });
      if (box.checked) { chosen.push(box.value); }
      self.state.facets[position] = chosen;
      self.state.page = 1;
      self.refresh();
    });
    this.$(".il-facets").addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      var position = button.getAttribute("data-param");
      if (button.classList.contains("il-clear")) {
        self.state.facets[position] = []; self.state.page = 1; self.refresh();
      } else if (button.classList.contains("il-more")) {
        self.showAll[position] = !self.showAll[position];
        self.renderFacets();
      }
    });
    var body = this.$(".il-table tbody");
    body.addEventListener("change", function (event) {
      var row = event.target.closest("tr[data-id]");
      if (!row) { return; }
      if (event.target.classList.contains("il-tick")) { self.tick(row, event.target.checked); }
    });
    body.addEventListener("input", function (event) {
      var row = event.target.closest("tr[data-id]");
      if (!row || !event.target.matches(".il-qty, .il-price")) { return; }
      var id = row.getAttribute("data-id");
      var edit = self.edits[id] || (self.edits[id] = {});
      edit[event.target.classList.contains("il-qty") ? "quantity" : "price"] = event.target.value;
      if (self.selection[id]) {
        self.selection[id].quantity = row.querySelector(".il-qty").value;
        self.selection[id].price = row.querySelector(".il-price").value;
      }
    });
    body.addEventListener("keydown", function (event) {
      var row = event.target.closest("tr[data-id]");
      if (!row) { return; }
      var rows = self.$$(".il-table tbody tr[data-id]");
      var index = rows.indexOf(row);
      var column = event.target.classList.contains("il-price") ? ".il-price"
        : (event.target.classList.contains("il-tick") ? ".il-tick" : ".il-qty");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (event.key === "ArrowUp" && index === 0) { self.$(".il-q").focus(); return; }
        self.focusRow(index + (event.key === "ArrowDown" ? 1 : -1), column);
      } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && event.target.matches(".il-qty, .il-price")) {
        event.preventDefault();
        var tick = row.querySelector(".il-tick");
        if (!tick.disabled && !tick.checked) { tick.checked = true; self.tick(row, true); }
        self.focusRow(index + 1, column);
      }
    });
    this.$(".il-table thead").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-sort]");
      if (!button) { return; }
      var name = button.getAttribute("data-sort");
      self.state.sort = self.state.sort === name ? "-" + name : name;
      self.state.page = 1;
      self.refresh();
    });
    this.$(".il-pages").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-page]");
      if (button && !button.disabled) { self.goTo(Number(button.getAttribute("data-page"))); }
    });
    this.dialog.addEventListener("keydown", function (event) {
      var typing = event.target.matches && event.target.matches("input[type=search], input:not([type]), input[type=text]");
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault(); self.commit(false);
      } else if (event.altKey && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
        event.preventDefault(); self.goTo(self.state.page + (event.key === "ArrowRight" ? 1 : -1));
      } else if (event.key === "/" && !typing) {
        event.preventDefault(); self.$(".il-q").focus();
      } else if (event.key === "Enter" && event.target.matches("input[type=checkbox], input[type=radio]")) {
        event.preventDefault();  // never submit the page's form
      }
    });
  };

  Picker.prototype.open = function () {
    this.onDocument = {};
    var self = this;
    this.currentItemIds().forEach(function (id) { self.onDocument[String(id)] = true; });
    this.$(".il-message").textContent = "";
    if (!this.dialog.open) { this.dialog.showModal(); }
    this.loadVendors();
    this.refresh();
    this.$(".il-q").focus();
  };

  /* Items already on the document: the editor's rows, or the saved document's lines. */
  Picker.prototype.currentItemIds = function () {
    if (this.config.mode === "editor") {
      var form = document.getElementById("doc-form");
      if (!form) { return []; }
      return Array.prototype.slice.call(form.querySelectorAll("input.item-id"))
        .map(function (input) { return input.value; }).filter(Boolean);
    }
    return this.config.onDocument || [];
  };

  Picker.prototype.loadVendors = function () {
    var self = this;
    var select = this.$(".il-vendor");
    if (this.vendorsLoaded) { return; }
    if (!this.config.vendorsUrl) {
      select.hidden = true;
      var label = this.$(".il-vendor-label");
      if (label) { label.hidden = true; }
      return;
    }
    this.vendorsLoaded = true;
    fetch(this.config.vendorsUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { items: [] }; })
      .then(function (body) {
        (body.items || []).forEach(function (v) { select.appendChild(el("option", { value: v.id, text: v.name })); });
      })
      .catch(function () { self.vendorsLoaded = false; });
  };

  /* The price book the prices come from: the line editor's, or the one chosen in the picker. */
  Picker.prototype.priceBook = function () {
    var form = document.getElementById("doc-form");
    var select = this.config.mode === "editor" ? (form && form.querySelector('[name="price_book_id"]'))
      : this.$(".il-book");
    return select ? select.value : "";
  };

  Picker.prototype.params = function () {
    var p = new URLSearchParams();
    var st = this.state;
    p.set("doc_type", this.config.docType);
    if (this.priceBook()) { p.set("price_book_id", this.priceBook()); }
    var where = this.$(".il-location");
    if (where && where.value) { p.set("location_id", where.value); }
    if (st.kind) { p.set("kind", st.kind); }
    if (st.q.trim()) { p.set("q", st.q.trim()); }
    Object.keys(st.facets).forEach(function (position) {
      (st.facets[position] || []).forEach(function (value) { p.append(position, value); });
    });
    if (st.vendor) { p.set("vendor_id", st.vendor); }
    Object.keys(st.switches).forEach(function (name) { if (st.switches[name]) { p.set(name, "true"); } });
    if (st.letter) { p.set("letter", st.letter); }
    p.set("sort", st.sort);
    p.set("page", String(st.page));
    p.set("per_page", String(this.config.perPage || 25));
    return p;
  };

  Picker.prototype.refresh = function () {
    var self = this;
    var ticket = ++this.ticket;
    this.dialog.setAttribute("aria-busy", "true");
    this.$(".il-status").textContent = this.s.searching;
    fetch(this.config.searchUrl + "?" + this.params().toString(),
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("json") !== -1;
        if (!json) { throw new Error(self.s.signIn); }
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (ticket !== self.ticket) { return; }
        self.dialog.removeAttribute("aria-busy");
        if (!answer.ok) { throw new Error((answer.body.error || {}).message || "error"); }
        self.result = answer.body;
        self.render();
      })
      .catch(function (error) {
        if (ticket !== self.ticket) { return; }
        self.dialog.removeAttribute("aria-busy");
        self.$(".il-status").textContent = fmt(self.s.error, { message: error.message });
      });
  };

  Picker.prototype.goTo = function (page) {
    if (!this.result) { return; }
    var pages = Math.max(1, Math.ceil((this.result.total || 0) / this.result.per_page));
    if (page < 1 || page > pages || page === this.state.page) { return; }
    this.state.page = page;
    this.refresh();
  };

  Picker.prototype.render = function () {
    var r = this.result;
    var status = r.total === 1 ? this.s.oneItem : fmt(this.s.items, { n: r.total });
    this.$(".il-status").textContent = r.total ? status : this.s.none;
    this.renderFacets();
    this.renderTable();
    this.renderPages();
    this.renderCount();
    this.dialog.setAttribute("data-il-ready", "1");
  };

  Picker.prototype.renderFacets = function () {
    var self = this;
    var panel = this.$(".il-facets");
    panel.textContent = "";
    (this.result.fields || []).forEach(function (field) {
      var counts = (self.result.facets || {})[field.field] || {};
      var chosen = self.state.facets[field.param] || [];
      var values = Object.keys(counts);
      chosen.forEach(function (v) { if (values.indexOf(v) === -1) { values.push(v); } });
      var legend = el("legend", {}, [field.label]);
      if (chosen.length) {
        legend.appendChild(el("button", { type: "button", className: "il-clear link", "data-param": field.param,
                                          text: self.s.clear }));
      }
      var box = el("fieldset", { className: "il-facet", "data-param": field.param, "data-field": field.field }, [legend]);
      var limit = self.showAll[field.param] ? values.length : 12;
      values.forEach(function (value, index) {
        var checked = chosen.indexOf(value) !== -1;
        if (index >= limit && !checked) { return; }
        box.appendChild(el("label", { className: "check il-value" }, [
          el("input", { type: "checkbox", value: value, "data-param": field.param, checked: checked }),
          " " + value + " ",
          el("span", { className: "il-n", text: "(" + (counts[value] || 0) + ")" })
        ]));
      });
      if (values.length > 12) {
        box.appendChild(el("button", { type: "button", className: "il-more link", "data-param": field.param,
          text: self.showAll[field.param] ? self.s.showFewer : fmt(self.s.showAll, { n: values.length }) }));
      }
      panel.appendChild(box);
    });
  };

  Picker.prototype.columns = function () {
    var s = this.s;
    var cols = [{ key: "tick", label: s.add }];
    if (this.config.showPicture) { cols.push({ key: "picture", label: s.picture }); }
    cols.push({ key: "name", label: s.name, sort: "name" }, { key: "sku", label: s.sku, sort: "sku" },
              { key: "kind", label: s.kind, sort: "kind" });
    (this.result.fields || []).forEach(function (f) { cols.push({ key: "field", field: f.field, label: f.label }); });
    cols.push({ key: "vendor", label: s.vendor }, { key: "available", label: s.available, sort: "available", num: true },
              { key: "quantity", label: s.quantity, num: true }, { key: "price", label: s.price, sort: "unit_price", num: true });
    return cols;
  };

  Picker.prototype.renderTable = function () {
    var self = this;
    var s = this.s;
    var cols = this.columns();
    var head = this.$(".il-table thead");
    head.textContent = "";
    var tr = el("tr");
    cols.forEach(function (col) {
      var th = el("th", { scope: "col", className: col.num ? "num" : null });
      if (col.sort) {
        var current = self.state.sort.replace("-", "") === col.sort;
        th.setAttribute("aria-sort", current ? (self.state.sort.charAt(0) === "-" ? "descending" : "ascending") : "none");
        th.appendChild(el("button", { type: "button", className: "link il-sort", "data-sort": col.sort,
          title: fmt(s.sortBy, { column: col.label }) },
          [col.label, current ? (self.state.sort.charAt(0) === "-" ? " ▼" : " ▲") : ""]));
      } else {
        th.textContent = col.label;
      }
      tr.appendChild(th);
    });
    head.appendChild(tr);
    var body = this.$(".il-table tbody");
    body.textContent = "";
    (this.result.items || []).forEach(function (item) {
      var id = String(item.id);
      var edit = self.edits[id] || {};
      var selected = self.selection[id];
      var onDoc = !!self.onDocument[id];
      var row = el("tr", { "data-id": id, className: "il-row" + (onDoc ? " il-on-doc" : "") +
        (selected ? " il-selected" : "") + (item.active ? "" : " il-inactive") });
      cols.forEach(function (col) {
        var td;
        if (col.key === "tick") {
          td = el("td", {}, [el("input", { type: "checkbox", className: "il-tick", checked: !!selected,
            disabled: !item.active, "aria-label": fmt(s.toggleAdd, { name: item.name }) })]);
        } else if (col.key === "picture") {
          td = el("td", { className: "il-pic" }, [item.picture ? el("img", { src: item.picture, alt: "", loading: "lazy" }) : null]);
        } else if (col.key === "name") {
          td = el("td", { className: "il-name" }, [item.name,
            onDoc ? el("span", { className: "il-badge", text: s.onDocument }) : null,
            item.active ? null : el("span", { className: "il-badge muted", text: s.inactive })]);
        } else if (col.key === "sku") {
          td = el("td", { text: item.sku || "" });
        } else if (col.key === "kind") {
          td = el("td", { text: s[item.kind] || item.kind });
        } else if (col.key === "field") {
          td = el("td", { text: (item.fields || {})[col.field] || "" });
        } else if (col.key === "vendor") {
          td = el("td", { text: item.vendor_name || "" });
        } else if (col.key === "available") {
          td = el("td", { className: "num", text: item.available === null ? "—" : item.available });
        } else if (col.key === "quantity") {
          var qty = selected ? selected.quantity : (edit.quantity !== undefined ? edit.quantity : "1");
          td = el("td", { className: "num" }, [el("input", { className: "il-qty num", inputmode: "decimal", size: "6",
            value: qty, disabled: !item.active, "aria-label": s.quantity + " — " + item.name })]);
        } else {
          var value = edit.price !== undefined ? edit.price : item.price;   // typed, else the server's
          if (selected) { selected.price = value; }                           // a new price book reprices it
          td = el("td", { className: "num" }, [el("input", { className: "il-price num", inputmode: "decimal", size: "9",
            value: value, disabled: !item.active, "aria-label": s.price + " — " + item.name })]);
        }
        row.appendChild(td);
      });
      row.ilItem = item;
      body.appendChild(row);
    });
  };

  Picker.prototype.renderPages = function () {
    var r = this.result;
    var nav = this.$(".il-pages");
    nav.textContent = "";
    var pages = Math.max(1, Math.ceil((r.total || 0) / r.per_page));
    nav.appendChild(el("button", { type: "button", className: "secondary", "data-page": r.page - 1,
      disabled: r.page <= 1, text: "‹ " + this.s.previous }));
    nav.appendChild(el("span", { className: "il-page", text: fmt(this.s.page, { page: r.page, pages: pages }) }));
    nav.appendChild(el("button", { type: "button", className: "secondary", "data-page": r.page + 1,
      disabled: r.page >= pages, text: this.s.next + " ›" }));
  };

  Picker.prototype.renderCount = function () {
    var n = Object.keys(this.selection).length;
    this.$(".il-count").textContent = n ? fmt(this.s.selected, { n: n }) : "";
    this.$(".il-add").textContent = fmt(this.s.addSelected, { n: n });
    this.$(".il-add").disabled = n === 0;
  };

  Picker.prototype.focusRow = function (index, selector) {
    var rows = this.$$(".il-table tbody tr[data-id]");
    if (!rows.length) { return; }
    index = Math.max(0, Math.min(rows.length - 1, index));
    var target = rows[index].querySelector(selector + ":not([disabled])") || rows[index].querySelector(".il-tick");
    if (target) { target.focus(); if (target.select) { target.select(); } }
  };

  Picker.prototype.tick = function (row, on) {
    var id = row.getAttribute("data-id");
    if (on) {
      this.selection[id] = { item: row.ilItem, quantity: row.querySelector(".il-qty").value,
                             price: row.querySelector(".il-price").value };
    } else {
      delete this.selection[id];
    }
    row.classList.toggle("il-selected", on);
    this.renderCount();
  };

  /* Check and collect the chosen rows (all shown ones too with ``shown``). */
  Picker.prototype.chosen = function (shown) {
    var self = this;
    if (shown) {
      this.$$(".il-table tbody tr[data-id]").forEach(function (row) {
        var tick = row.querySelector(".il-tick");
        if (!tick.disabled) { tick.checked = true; self.tick(row, true); }
      });
    }
    var entries = [];
    var problem = null;
    Object.keys(this.selection).forEach(function (id) {
      var chosen = self.selection[id];
      var quantity = decimalText(chosen.quantity);
      var price = decimalText(chosen.price);
      if (!isPositive(quantity)) { problem = problem || self.s.badQuantity + " (" + chosen.item.name + ")"; }
      if (price !== "" && !isPrice(price)) { problem = problem || self.s.badPrice + " (" + chosen.item.name + ")"; }
      entries.push({ item: chosen.item, quantity: quantity, price: price });
    });
    return { entries: entries, problem: problem };
  };

  Picker.prototype.commit = function (shown) {
    var self = this;
    var message = this.$(".il-message");
    var chosen = this.chosen(shown);
    if (!chosen.entries.length) { message.textContent = this.s.nothingSelected; return; }
    if (chosen.problem) { message.textContent = chosen.problem; return; }
    message.textContent = "";
    if (this.config.mode === "editor") {
      if (!addToEditor(chosen.entries, this.config)) { message.textContent = this.s.cannotAdd; return; }
      this.selection = {};
      this.edits = {};
      this.dialog.close();
      return;
    }
    var buttons = this.$$(".il-add, .il-add-shown");
    buttons.forEach(function (b) { b.disabled = true; });
    var body = { items: chosen.entries.map(function (e) {
      var line = { item_id: e.item.id, quantity: e.quantity };
      if (e.price !== "") { line.unit_price = e.price; }
      return line;
    }) };
    if (this.priceBook()) { body.price_book_id = Number(this.priceBook()); }
    fetch(this.config.addUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrfMeta ? csrfMeta.content : "" },
      body: JSON.stringify(body)
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("json") !== -1;
      if (!json) { throw new Error(self.s.signIn); }
      return response.json().then(function (answer) { return { ok: response.ok, body: answer }; });
    }).then(function (answer) {
      if (!answer.ok) {
        var error = answer.body.error || {};
        var details = Object.keys(error.fields || {}).map(function (k) { return k + ": " + error.fields[k].join(" "); });
        throw new Error([error.message].concat(details.length > 1 ? details : []).join(" · "));
      }
      message.textContent = fmt(self.s.added, { n: body.items.length });
      self.selection = {};
      window.location.reload();
    }).catch(function (error) {
      message.textContent = fmt(self.s.error, { message: error.message });
      buttons.forEach(function (b) { b.disabled = false; });
      self.renderCount();
    });
  };

  /* Put the chosen items into the core's line editor as new rows; the editor's server preview
     recomputes the totals. A listener of "crm:add-lines" on the form may take them instead. */
  function addToEditor(entries, config) {
    var form = document.getElementById("doc-form");
    if (!form) { return false; }
    var lines = entries.map(function (e) {
      return { item_id: e.item.id, label: e.item.sku ? e.item.name + " (" + e.item.sku + ")" : e.item.name,
               quantity: e.quantity, unit_price: e.price, tax_ids: e.item.tax_ids || [], kind: e.item.kind };
    });
    var event = new CustomEvent("crm:add-lines", { detail: { lines: lines }, bubbles: true, cancelable: true });
    if (!form.dispatchEvent(event)) { return true; }
    var template = document.getElementById("line-template");
    var body = document.getElementById("lines");
    if (!template || !body) { return false; }
    Array.prototype.slice.call(body.querySelectorAll("tr.line")).forEach(function (row) {
      var id = row.querySelector(".item-id");
      var label = row.querySelector(".item-search");
      if (id && !id.value && label && !label.value.trim()) { row.remove(); }  // an empty line
    });
    var stamp = Date.now().toString(36).slice(-4);
    lines.forEach(function (line, index) {
      var key = "il" + stamp + index;
      var holder = document.createElement("tbody");
      holder.innerHTML = template.innerHTML.split("__KEY__").join(key);
      var row = holder.firstElementChild;
      row.querySelector(".item-id").value = line.item_id;
      row.querySelector(".item-search").value = line.label;
      var qty = row.querySelector(".qty");
      if (qty) { qty.value = line.quantity; }
      var price = row.querySelector(".price");
      if (price && line.unit_price !== "") { price.value = line.unit_price; }
      var taxes = line.tax_ids.map(String);
      row.querySelectorAll('.tax-checks input[type="checkbox"]').forEach(function (box) {
        box.checked = taxes.indexOf(box.value) !== -1;
      });
      body.appendChild(row);
      if (window.htmx) { window.htmx.process(row); }
    });
    form.dispatchEvent(new Event("recompute", { bubbles: true }));
    return true;
  }

  function init() {
    document.querySelectorAll("button[data-il-open]").forEach(function (button) {
      if (button.ilReady) { return; }
      var id = button.getAttribute("data-il-open");
      var dialog = document.getElementById(id);
      var config = document.getElementById(id + "-config");
      if (!dialog || !config) { return; }
      document.body.appendChild(dialog);  // out of the editor's form
      var picker = new Picker(dialog, JSON.parse(config.textContent));
      button.ilReady = true;
      button.addEventListener("click", function () { picker.open(); });
      dialog.addEventListener("close", function () { button.focus(); });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
