// An inspector's phone without signal. templates/base.html loads this on every page for those who
// inspect, with their username, the service worker's address and the static prefix.
//
//   - The outbox: a visit saved while offline (static/js/visit.js) waits here, photos included,
//     in IndexedDB under its own id (a UUID: the server keys the visit by it, so a record sent
//     twice is recorded once). It is sent when a page opens online and on 立即同步, one record
//     after another, each then shown as 待同步, 已同步 or 被拒绝 with the server's reason.
//     Background Sync is not used: Safari, iOS and Android's WebView lack it, so sending is the
//     page's job. Records are only ever sent by the user who made them.
//   - The pages: the worklist and its visit forms are kept on the phone whenever the worklist
//     opens online, and a chosen village's forms and dossiers on 带走 (Cache Storage; the service
//     worker, static/js/offline-sw.js, answers from it without signal).
//   - Logging out with records unsent asks first; logging out forgets the kept pages (personal
//     data), never the unsent records.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.user) {
    return;
  }
  var USER = script.dataset.user;
  var PAGES = "heating-pages-v1"; // the service worker's names
  var STATICS = "heating-static-v1";
  var DB = "heating-outbox";
  var STORE = "records";
  var LAST_SYNC = "heating-outbox-last-sync:" + USER;
  var TAKEN = "heating-offline-villages:" + USER;
  var FETCHED = "heating-offline-fetched:" + USER;
  var CACHED_FOR = "heating-pages-user";
  var FLASH = "heating-outbox-flash";
  // Pages kept less than this long ago are not fetched again when the worklist opens.
  var FRESH_MS = 20 * 60 * 1000;
  // A sent record keeps its photos a day (should it have to be sent again), its summary a month.
  var KEEP_PHOTOS_MS = 24 * 3600 * 1000;
  var KEEP_SENT_MS = 30 * 24 * 3600 * 1000;
  var STATES = {
    pending: ["待同步", "status-risk"],
    sent: ["已同步", "status-ok"],
    refused: ["被拒绝", "status-overdue"],
  };
  var note = "";

  // ------------------------------------------------------------------ the records (IndexedDB)

  function database() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) {
        reject(new Error("IndexedDB"));
        return;
      }
      var request = window.indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "id" });
      };
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
    });
  }

  function transact(mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var request = work(t.objectStore(STORE));
        t.oncomplete = function () {
          db.close();
          resolve(request ? request.result : undefined);
        };
        t.onerror = t.onabort = function () {
          db.close();
          reject(t.error);
        };
      });
    });
  }

  function all() {
    return transact("readonly", function (store) {
      return store.getAll();
    }).then(function (records) {
      return records
        .filter(function (r) {
          return r.user === USER;
        })
        .sort(function (a, b) {
          return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
        });
    });
  }

  function put(record) {
    return transact("readwrite", function (store) {
      return store.put(record);
    });
  }

  function remove(id) {
    return transact("readwrite", function (store) {
      return store.delete(id);
    });
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    });
    return [h.slice(0, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10), h.slice(10)]
      .map(function (part) {
        return part.join("");
      })
      .join("-");
  }

  // A visit to keep: {id, kind, url, title, fields: [[name, value]], files: [{field, name, blob}]}.
  function add(record) {
    record.user = USER;
    record.state = "pending";
    record.reason = "";
    record.createdAt = new Date().toISOString();
    // Ask the browser not to clear this site's storage under pressure (Chrome, Firefox).
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(function () {});
    }
    return put(record).then(refresh);
  }

  // ------------------------------------------------------------------ sending

  function csrf() {
    var found = document.cookie.split("; ").filter(function (c) {
      return c.indexOf("csrftoken=") === 0;
    })[0];
    return found ? decodeURIComponent(found.split("=")[1]) : "";
  }

  var LOGGED_OUT = "登录已过期，请重新登录后再同步。";

  // One record: null when it was answered (accepted or refused), else why sending stopped.
  function send(record) {
    var body = new FormData();
    record.fields.forEach(function (field) {
      body.append(field[0], field[1]);
    });
    record.files.forEach(function (file) {
      body.append(file.field, file.blob, file.name);
    });
    return fetch(record.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Outbox": "1", "X-CSRFToken": csrf(), Accept: "application/json" },
    }).then(
      function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (response.type === "opaqueredirect" || (!json && response.status === 403)) {
          return LOGGED_OUT; // the login page, or a form token of an older login
        }
        if (!json) {
          return "服务器暂时无法处理（" + response.status + "），请稍后再同步。";
        }
        return response.json().then(function (answer) {
          if (answer.state === "accepted") {
            recorded += answer.replayed ? 0 : 1;
            record.state = "sent";
            record.reason = answer.replayed ? "此前已同步，未重复保存" : "";
            record.serverId = answer.id;
          } else {
            record.state = "refused";
            record.reason = answer.reason || "服务器拒绝了这条记录";
          }
          record.answeredAt = new Date().toISOString();
          return put(record).then(function () {
            return null;
          });
        });
      },
      function () {
        return "网络不通，请稍后再同步。";
      }
    );
  }

  var syncing = null;
  var recorded = 0; // new visits the server recorded in this sync

  function sync() {
    if (syncing) {
      return syncing;
    }
    if (!navigator.onLine) {
      note = "当前无网络，联网后再同步。";
      return refresh();
    }
    recorded = 0;
    syncing = all()
      .then(function (records) {
        var pending = records.filter(function (r) {
          return r.state === "pending";
        });
        return pending.reduce(function (previous, record) {
          return previous.then(function (stopped) {
            return stopped || send(record);
          });
        }, Promise.resolve(null));
      })
      .then(function (stopped) {
        note = stopped || "";
        if (!stopped && recorded && document.querySelector("[data-worklist]")) {
          note = "已同步 " + recorded + " 条新记录，刷新本页可看到最新的待验收列表。";
        }
        if (!stopped) {
          window.localStorage.setItem(LAST_SYNC, new Date().toISOString());
        }
      })
      .then(prune)
      .catch(function () {
        note = "本机无法读取待同步记录。";
      })
      .then(function () {
        syncing = null;
        return refresh();
      });
    return syncing;
  }

  function prune() {
    var now = Date.now();
    return all().then(function (records) {
      return Promise.all(
        records
          .filter(function (r) {
            return r.state === "sent";
          })
          .map(function (r) {
            var age = now - Date.parse(r.answeredAt || r.createdAt);
            if (age > KEEP_SENT_MS) {
              return remove(r.id);
            }
            if (age > KEEP_PHOTOS_MS && r.files.length) {
              r.photoCount = r.files.length;
              r.files = [];
              return put(r);
            }
            return null;
          })
      );
    });
  }

  // ------------------------------------------------------------------ the panel

  function when(iso) {
    var d = new Date(iso);
    function two(n) {
      return (n < 10 ? "0" : "") + n;
    }
    return (
      d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes())
    );
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) {
      el.className = className;
    }
    if (text) {
      el.textContent = text;
    }
    return el;
  }

  function refresh() {
    var panels = document.querySelectorAll("[data-outbox-panel]");
    return all()
      .then(function (records) {
        Array.prototype.forEach.call(panels, function (panel) {
          draw(panel, records);
        });
        return records;
      })
      .catch(function () {
        Array.prototype.forEach.call(panels, function (panel) {
          panel.querySelector("[data-records]").textContent =
            "此浏览器不能在本机保存记录（可能处于无痕模式），离线时无法录入验收。";
        });
        return [];
      });
  }

  function draw(panel, records) {
    var list = panel.querySelector("[data-records]");
    list.textContent = "";
    if (!records.length) {
      list.appendChild(element("li", "muted", "本机没有待同步的记录。"));
    }
    records.forEach(function (record) {
      var item = element("li", "outbox-record");
      item.dataset.id = record.id;
      item.dataset.state = record.state;
      var state = STATES[record.state] || STATES.pending;
      item.appendChild(element("span", "status " + state[1], state[0]));
      item.appendChild(document.createTextNode(" " + record.title + " "));
      var photos = record.files.length || record.photoCount || 0;
      item.appendChild(
        element("span", "muted", "（" + when(record.createdAt) + " 录入" +
          (photos ? "，照片 " + photos + " 张" : "") + "）")
      );
      if (record.reason) {
        item.appendChild(element("div", record.state === "refused" ? "error" : "hint", record.reason));
      }
      if (record.state === "refused") {
        // Put right on its form (static/js/visit.js fills it from the record), or let go.
        var again = element("a", "button", "修改后重新提交");
        again.href = record.url + "#outbox=" + encodeURIComponent(record.id);
        again.dataset.testid = "outbox-edit";
        item.appendChild(again);
        var discard = element("button", "button secondary", "删除此记录");
        discard.type = "button";
        discard.addEventListener("click", function () {
          if (window.confirm("删除后无法恢复。确定删除这条被拒绝的记录？")) {
            remove(record.id).then(refresh);
          }
        });
        item.appendChild(discard);
      }
      list.appendChild(item);
    });
    var last = window.localStorage.getItem(LAST_SYNC);
    panel.querySelector("[data-last-sync]").textContent =
      "上次同步：" + (last ? when(last) : "尚未同步") + (note ? "。" + note : "");
    var waiting = records.filter(function (r) {
      return r.state === "pending";
    }).length;
    panel.querySelector("[data-count]").textContent = waiting ? "（" + waiting + " 条待同步）" : "";
  }

  // ------------------------------------------------------------------ the pages kept offline

  function fetchedAt() {
    try {
      return JSON.parse(window.localStorage.getItem(FETCHED) || "{}");
    } catch (e) {
      return {};
    }
  }

  // Keep `urls` (pages) and the static files they load; resolves to how many pages were kept.
  function keep(urls, force) {
    if (!window.caches) {
      return Promise.resolve(0);
    }
    var times = fetchedAt();
    var now = Date.now();
    var wanted = urls.filter(function (url) {
      return force || !times[url] || now - times[url] > FRESH_MS;
    });
    var assets = {};
    return caches.open(PAGES).then(function (cache) {
      return wanted
        .reduce(function (previous, url) {
          return previous.then(function (kept) {
            return fetch(url, { credentials: "same-origin" })
              .then(function (response) {
                var html = (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
                if (!response.ok || response.redirected || !html) {
                  return kept;
                }
                return cache
                  .put(url, response.clone())
                  .then(function () {
                    return response.text();
                  })
                  .then(function (text) {
                    collectAssets(new DOMParser().parseFromString(text, "text/html"), assets);
                    times[url] = now;
                    return kept + 1;
                  });
              })
              .catch(function () {
                return kept;
              });
          });
        }, Promise.resolve(0))
        .then(function (kept) {
          window.localStorage.setItem(FETCHED, JSON.stringify(times));
          collectAssets(document, assets);
          return keepAssets(Object.keys(assets)).then(function () {
            return kept;
          });
        });
    });
  }

  function collectAssets(doc, into) {
    var prefix = script.dataset.static;
    var found = doc.querySelectorAll("script[src], link[rel=stylesheet][href], link[rel=icon][href]");
    Array.prototype.forEach.call(found, function (el) {
      var address = el.getAttribute("src") || el.getAttribute("href");
      if (address && address.indexOf(prefix) === 0) {
        into[address] = true;
      }
    });
  }

  function keepAssets(addresses) {
    return caches.open(STATICS).then(function (cache) {
      return Promise.all(
        addresses.map(function (address) {
          return cache.match(address).then(function (hit) {
            return hit || cache.add(address).catch(function () {});
          });
        })
      );
    });
  }

  // The worklist as it is now, its visit forms, and the outbox page (shown for a page not kept).
  function keepWorklist() {
    var list = document.querySelector("[data-worklist]");
    if (!list || !navigator.onLine) {
      return Promise.resolve();
    }
    var links = list.querySelectorAll("a[data-visit]");
    var urls = [script.dataset.outbox, window.location.pathname + window.location.search];
    Array.prototype.forEach.call(links, function (a) {
      urls.push(a.pathname);
    });
    var status = document.querySelector("[data-offline-ready]");
    // The worklist itself is new each time it opens: the service worker keeps it when it
    // controls the page; before that, it is fetched once more here.
    var force = {};
    if (!navigator.serviceWorker || !navigator.serviceWorker.controller) {
      force[urls[1]] = true;
    }
    var fresh = urls.filter(function (u) {
      return !force[u];
    });
    // One after the other, not side by side: a village's weak signal, and a server that answers
    // one request of a phone at a time as well as two.
    return keep(Object.keys(force), true)
      .then(function () {
        return keep(fresh, false);
      })
      .then(function () {
        if (status) {
          status.textContent =
            "已在本机保存本页及其中 " + links.length + " 户的验收页（" + when(new Date().toISOString()) +
            "），无网络时也可打开。";
          status.dataset.ready = "1";
        }
      });
  }

  function taken() {
    try {
      return JSON.parse(window.localStorage.getItem(TAKEN) || "[]");
    } catch (e) {
      return [];
    }
  }

  function drawTaken() {
    var list = document.querySelector("[data-taken]");
    if (!list) {
      return;
    }
    list.textContent = "";
    var villages = taken();
    if (!villages.length) {
      list.appendChild(element("li", "muted", "尚未带走任何村的资料。"));
    }
    villages.forEach(function (village) {
      var item = element("li", "", village.name + "：" + village.households + " 户，" + when(village.at) + " 保存 ");
      var again = element("button", "button secondary", "更新");
      again.type = "button";
      again.addEventListener("click", function () {
        takeAlong(village.village);
      });
      var drop = element("button", "button secondary", "移除");
      drop.type = "button";
      drop.addEventListener("click", function () {
        caches.open(PAGES).then(function (cache) {
          return Promise.all(
            village.pages.map(function (url) {
              return cache.delete(url);
            })
          );
        });
        window.localStorage.setItem(
          TAKEN,
          JSON.stringify(
            taken().filter(function (v) {
              return v.village !== village.village;
            })
          )
        );
        drawTaken();
      });
      item.appendChild(again);
      item.appendChild(drop);
      list.appendChild(item);
    });
  }

  function takeAlong(village) {
    var box = document.querySelector("[data-take-along]");
    var status = box && box.querySelector("[data-take-status]");
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    if (!navigator.onLine) {
      say("当前无网络，联网后才能带走资料。");
      return Promise.resolve();
    }
    say("正在保存……");
    return fetch(box.dataset.manifest + "?village=" + encodeURIComponent(village), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (manifest) {
        return keep(manifest.pages, true).then(function (kept) {
          var others = taken().filter(function (v) {
            return v.village !== manifest.village;
          });
          others.push({
            village: manifest.village,
            name: manifest.name,
            households: manifest.households,
            pages: manifest.pages,
            at: new Date().toISOString(),
          });
          window.localStorage.setItem(TAKEN, JSON.stringify(others));
          drawTaken();
          say("已保存「" + manifest.name + "」" + manifest.households + " 户的验收页和一户一档，共 " + kept + " 页。");
        });
      })
      .catch(function () {
        say("未能保存该村资料，请稍后再试。");
      });
  }

  // ------------------------------------------------------------------ the page

  // Said at the top of a page that is the phone's copy: without signal, or when the network was
  // too slow and the service worker answered from the copy; and, on the outbox page shown in
  // place of a page not kept, that it was not kept.
  function banner() {
    var main = document.querySelector("main.page");
    var shown = document.getElementById("offline-banner");
    var copy = Boolean(script.dataset.copy);
    if (shown) {
      shown.remove();
    }
    if (!main || (navigator.onLine && !copy)) {
      return;
    }
    var rendered = script.dataset.rendered ? " " + when(script.dataset.rendered) + " " : "";
    var texts = [
      navigator.onLine
        ? "本页是" + rendered + "保存在本机的副本（网络较慢或刚恢复），刷新可看到最新内容。"
        : "当前无网络：本页是" + rendered +
          "保存在本机的副本。录入的验收记录先保存在本机，联网后在「待同步记录」中同步。",
    ];
    if (copy && window.location.pathname !== script.dataset.outbox &&
        document.querySelector("[data-outbox-panel]") && !document.querySelector("[data-worklist]")) {
      texts.push("所要打开的页面没有保存在本机，联网后才能打开。");
    }
    var list = element("ul", "messages");
    list.id = "offline-banner";
    list.setAttribute("role", "status");
    texts.forEach(function (text) {
      list.appendChild(element("li", "error", text));
    });
    main.insertBefore(list, main.firstChild);
  }

  function flash() {
    var text = window.sessionStorage.getItem(FLASH);
    var main = document.querySelector("main.page");
    if (!text || !main) {
      return;
    }
    window.sessionStorage.removeItem(FLASH);
    var list = element("ul", "messages");
    list.appendChild(element("li", "", text));
    list.dataset.testid = "outbox-flash";
    main.insertBefore(list, main.firstChild);
  }

  // Pages kept on a shared phone by another inspector are theirs: forgotten before keeping any.
  function forgetOtherUsersPages() {
    var owner = window.localStorage.getItem(CACHED_FOR);
    window.localStorage.setItem(CACHED_FOR, USER);
    if (owner === USER || !window.caches) {
      return Promise.resolve();
    }
    window.localStorage.removeItem(FETCHED);
    return caches.delete(PAGES).catch(function () {});
  }

  // Logging out: ask when records are unsent; then forget the kept pages (they hold households'
  // names and phones), but keep the records for this user's next login.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target.closest("form[data-logout]");
      if (!form || form.dataset.ready) {
        return;
      }
      event.preventDefault();
      all()
        .catch(function () {
          return [];
        })
        .then(function (records) {
          var unsent = records.filter(function (r) {
            return r.state !== "sent";
          }).length;
          if (
            unsent &&
            !window.confirm(
              "本机还有 " + unsent + " 条验收记录未同步（待同步或被拒绝）。退出后记录仍保存在本机，" +
                "须用本账号重新登录并联网才能同步；清除浏览器数据会丢失这些记录。确定退出？"
            )
          ) {
            return;
          }
          var forget = window.caches ? caches.delete(PAGES) : Promise.resolve();
          return forget
            .catch(function () {})
            .then(function () {
              window.localStorage.removeItem(FETCHED);
              form.dataset.ready = "1";
              form.submit();
            });
        });
    },
    true
  );

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sync]")) {
      sync();
    }
    var take = event.target.closest("[data-take-village]");
    if (take) {
      var select = document.querySelector("[data-take-along] select");
      if (select && select.value) {
        takeAlong(select.value);
      }
    }
  });

  window.addEventListener("online", function () {
    banner();
    sync();
  });
  window.addEventListener("offline", banner);

  if (navigator.serviceWorker && window.isSecureContext && script.dataset.sw) {
    var worker = script.dataset.sw + "?static=" + encodeURIComponent(script.dataset.static);
    navigator.serviceWorker.register(worker, { scope: "/" }).catch(function () {});
  }
  window.heatingOutbox = {
    add: add, all: all, put: put, remove: remove, sync: sync, newId: newId, flash: FLASH,
  };
  banner();
  flash();
  drawTaken();
  refresh().then(function () {
    return sync();
  });
  forgetOtherUsersPages().then(keepWorklist);
})();
