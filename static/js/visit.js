// The visit form on a phone, with signal or without.
(function () {
  "use strict";

  var outbox = window.heatingOutbox;

  // Household visits can wait in the phone's outbox (static/js/outbox.js); a project's cannot.
  function queueable(form) {
    return Boolean(form.dataset.outboxKind && outbox);
  }

  // The phone's location, when the user allows it; the visit is saved without it otherwise.
  function locate() {
    if (!navigator.geolocation || !document.getElementById("id_latitude")) {
      return;
    }
    navigator.geolocation.getCurrentPosition(function (p) {
      document.getElementById("id_latitude").value = p.coords.latitude.toFixed(6);
      document.getElementById("id_longitude").value = p.coords.longitude.toFixed(6);
      document.getElementById("location-status").textContent =
        "位置：已记录（±" + Math.round(p.coords.accuracy) + " 米）";
    });
  }

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // A form opened from the phone's copy was drawn when the copy was kept: its time is now.
  function timeIsNow() {
    var field = document.getElementById("id_visited_at");
    if (!field || document.querySelector("[data-testid=error-summary]")) {
      return;
    }
    var d = new Date();
    field.value =
      d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + "T" +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }

  // The record's own id, kept for every send of this filling of the form: sent twice (a lost
  // answer, the outbox), it is recorded once.
  function clientId(form) {
    var field = form.querySelector("[name=client_id]");
    if (field && !field.value) {
      field.value = outbox ? outbox.newId() : "";
    }
  }

  // Opened from the outbox to put a refused record right: the form filled as it was recorded,
  // its photos and its location with it, but with this page's version of the household and a new
  // id (it is a new submission). Once saved, the refused record is removed (forget()).
  var FRESH = { client_id: true, seen_version: true, back: true, csrfmiddlewaretoken: true };

  function editing() {
    var found = /^#outbox=(.+)$/.exec(window.location.hash);
    return found ? decodeURIComponent(found[1]) : "";
  }

  function refill(form) {
    var id = editing();
    if (!id || !queueable(form)) {
      return Promise.resolve();
    }
    return outbox.all().then(function (records) {
      var record = records.filter(function (r) {
        return r.id === id && r.state === "refused";
      })[0];
      if (!record) {
        return;
      }
      var values = {};
      record.fields.forEach(function (field) {
        (values[field[0]] = values[field[0]] || []).push(field[1]);
      });
      Array.prototype.forEach.call(form.elements, function (input) {
        if (!input.name || FRESH[input.name] || input.type === "file") {
          return;
        }
        var given = values[input.name] || [];
        if (input.type === "checkbox" || input.type === "radio") {
          input.checked = given.indexOf(input.value) >= 0;
        } else if (input.tagName !== "BUTTON") {
          input.value = given.length ? given.shift() : "";
        }
      });
      var photos = form.querySelector("input[type=file]");
      if (photos && record.files.length && window.DataTransfer) {
        var transfer = new window.DataTransfer();
        record.files.forEach(function (file) {
          transfer.items.add(new window.File([file.blob], file.name, { type: file.type || "" }));
        });
        photos.files = transfer.files;
      }
      var status = document.getElementById("location-status");
      if (status && values.latitude && values.latitude[0]) {
        status.textContent = "位置：沿用原记录";
      }
      form.dataset.replaces = record.id;
      var note = document.createElement("div");
      note.className = "error";
      note.setAttribute("role", "status");
      note.dataset.testid = "outbox-editing";
      note.textContent =
        "正在修改一条被拒绝的本机记录（" + record.reason + "）。核对、修改后保存，原记录随即从本机删除。";
      form.parentNode.insertBefore(note, form);
    });
  }

  // The refused record this form put right, once its new record is saved or queued.
  function forget(form) {
    var old = form.dataset.replaces;
    return old ? outbox.remove(old).catch(function () {}) : Promise.resolve();
  }

  // What the server would refuse at once, said before the record waits in the outbox for hours.
  function problems(form) {
    var found = [];
    var result = form.querySelector("input[name=result]:checked");
    if (!form.querySelector("#id_visited_at").value) {
      found.push("请填写验收时间");
    }
    if (!result) {
      found.push("请选择验收结果");
    }
    var defects = 0;
    form.querySelectorAll(".defect").forEach(function (row) {
      var inputs = row.querySelectorAll("input");
      if (inputs[0].value.trim() && !inputs[1].value) {
        found.push("问题「" + inputs[0].value.trim() + "」请填写整改期限");
      }
      if (inputs[0].value.trim() && inputs[1].value) {
        defects += 1;
      }
    });
    if (result && result.value === "failed" && !defects) {
      found.push("不合格须列出问题和整改期限");
    }
    if (result && result.value === "passed") {
      if (defects) {
        found.push("合格的验收不应有待整改问题");
      }
      var unchecked = [];
      form.querySelectorAll("fieldset input[type=checkbox]").forEach(function (box) {
        if (!box.checked) {
          unchecked.push(box.parentNode.textContent.trim());
        }
      });
      if (unchecked.length) {
        found.push("合格须全部检查项通过，未通过：" + unchecked.join("、"));
      }
    }
    return found;
  }

  function showProblems(form, found) {
    var old = document.querySelector("[data-testid=error-summary]");
    if (old) {
      old.remove();
    }
    var box = document.createElement("div");
    box.className = "error-summary";
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.dataset.testid = "error-summary";
    var strong = document.createElement("strong");
    strong.textContent = "未能保存，请修改以下问题：";
    box.appendChild(strong);
    var list = document.createElement("ul");
    found.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    box.appendChild(list);
    form.parentNode.insertBefore(box, form);
    box.scrollIntoView();
    box.focus();
  }

  // Without signal: the record and its photos wait on the phone; the worklist (its copy) is next.
  function queue(form, button) {
    var found = problems(form);
    if (found.length) {
      showProblems(form, found);
      button.disabled = false;
      button.textContent = "保存验收记录";
      return;
    }
    clientId(form);
    var fields = [];
    var files = [];
    new FormData(form).forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken") {
        return; // the outbox sends the token of the login it is sent under
      }
      if (value instanceof window.File) {
        if (value.size) {
          files.push({ field: name, name: value.name, type: value.type, blob: value });
        }
      } else {
        fields.push([name, value]);
      }
    });
    var title = form.dataset.outboxTitle;
    outbox
      .add({
        id: form.querySelector("[name=client_id]").value,
        kind: form.dataset.outboxKind,
        url: form.action,
        title: title,
        fields: fields,
        files: files,
      })
      .then(function () {
        return forget(form);
      })
      .then(function () {
        window.sessionStorage.setItem(outbox.flash, "已保存在本机，待同步：" + title);
        window.location.assign(form.querySelector("[name=back]").value || "/acceptance/");
      })
      .catch(function () {
        button.disabled = false;
        button.textContent = "保存验收记录";
        window.alert("此浏览器不能在本机保存记录（可能处于无痕模式）。请联网后再保存，已填写的内容仍在本页。");
      });
  }

  // A form sent back with errors keeps the photos chosen: a browser empties a file input on every
  // page load, so the form is sent by fetch and the page that comes back takes this page's place
  // around this same file input. Saved, the page goes where the server says. Without signal (or
  // when the post fails for want of it), a household's visit goes to the outbox instead.
  function keepPhotos(form) {
    form.addEventListener("submit", function (event) {
      var photos = form.querySelector("input[type=file]");
      if (!window.fetch || !window.FormData || !photos) {
        return; // a plain post
      }
      if (!queueable(form) && !photos.files.length) {
        return; // nothing to lose: a plain post
      }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "正在保存……";
      if (queueable(form) && !navigator.onLine) {
        queue(form, button);
        return;
      }
      if (queueable(form)) {
        clientId(form);
      }
      fetch(form.getAttribute("action") || window.location.href, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Visit-Form": "fetch" },
      })
        .then(function (response) {
          var next = response.headers.get("X-Location");
          if (response.status === 204 && next) {
            return forget(form).then(function () {
              window.location.assign(next);
              return null;
            });
          }
          return response.text();
        })
        .then(function (html) {
          if (html === null) {
            return;
          }
          var page = new DOMParser().parseFromString(html, "text/html");
          var main = page.querySelector("main.page");
          var fresh = main && main.querySelector("form.visit-form");
          if (!fresh) {
            document.open();
            document.write(html);
            document.close();
            return;
          }
          fresh.querySelector("input[type=file]").replaceWith(photos);
          var status = document.getElementById("location-status");
          var freshStatus = fresh.querySelector("#location-status");
          if (status && freshStatus) {
            freshStatus.textContent = status.textContent;
          }
          if (form.dataset.replaces) {
            fresh.dataset.replaces = form.dataset.replaces;
          }
          document.querySelector("main.page").replaceWith(main);
          keepPhotos(main.querySelector("form.visit-form"));
          var summary = main.querySelector("[data-testid=error-summary]");
          if (summary) {
            summary.scrollIntoView();
            summary.focus();
          }
        })
        .catch(function () {
          if (queueable(form)) {
            queue(form, button); // the same id: should the post have arrived, it counts once
            return;
          }
          button.disabled = false;
          button.textContent = "保存验收记录";
          window.alert("网络异常，未能保存，请稍后再试。已填写的内容仍在本页。");
        });
    });
  }

  var form = document.querySelector("form.visit-form");
  if (!editing()) {
    locate(); // a record put right keeps where it was recorded
  }
  if (form) {
    timeIsNow();
    refill(form);
    keepPhotos(form);
  }
})();
