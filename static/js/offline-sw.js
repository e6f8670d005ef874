// The service worker of the inspectors' offline work. static/js/outbox.js registers it; the
// acceptance app serves it at /acceptance/sw.js with "Service-Worker-Allowed: /", so that it may
// answer for the dossiers (/households/…) an inspector takes along, not only for /acceptance/.
//
// It answers GET requests only, and of those only:
//   - static files: from this phone's copy at once (refreshed from the network behind it);
//   - the pages an inspector works from (the worklist, the visit forms, the outbox page, the
//     dossiers): from the network when there is one, keeping a copy; from the copy when there is
//     none, or when the network has not answered within a few seconds (a village's weak signal).
// Every other request, and every POST (a visit, a sync), goes to the network as if it were not
// here: the outbox (outbox.js, IndexedDB) keeps a visit whose post fails.
//
// The cache names are shared with outbox.js, which fills them when a village is taken along and
// empties the pages' cache when the inspector logs out.
"use strict";

var PAGES = "heating-pages-v1";
var STATICS = "heating-static-v1";
var STATIC_PREFIX = new URL(self.location.href).searchParams.get("static") || "/static/";
var FALLBACK = "/acceptance/outbox/";
var PATIENCE_MS = 5000;
var KEPT = [
  /^\/acceptance\/$/,
  /^\/acceptance\/outbox\/$/,
  /^\/acceptance\/households\/\d+\/(visit|spot-check)\/$/,
  /^\/households\/\d+\/$/,
];

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (names) {
        return Promise.all(
          names
            .filter(function (name) {
              return name.indexOf("heating-") === 0 && name !== PAGES && name !== STATICS;
            })
            .map(function (name) {
              return caches.delete(name);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (url.pathname.indexOf(STATIC_PREFIX) === 0) {
    event.respondWith(staticFile(event));
  } else if (request.mode === "navigate" && kept(url.pathname)) {
    event.respondWith(page(event, url));
  }
});

function kept(path) {
  return KEPT.some(function (pattern) {
    return pattern.test(path);
  });
}

function staticFile(event) {
  var request = event.request;
  return caches.open(STATICS).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      var network = fetch(request).then(function (response) {
        if (response.ok) {
          cache.put(request, response.clone());
        }
        return response;
      });
      if (hit) {
        event.waitUntil(network.catch(function () {}));
        return hit;
      }
      return network;
    });
  });
}

// The copy of a page: of its very address; else of its path (a visit form's ?back= differs from
// link to link); else, for a form or a dossier, of any address of that path. Marked as a copy
// (outbox.js then says so on the page, with the time it was drawn).
function copyOf(request, url) {
  return caches
    .open(PAGES)
    .then(function (cache) {
      var options = { ignoreVary: true };
      return cache.match(request, options).then(function (hit) {
        return (
          hit ||
          cache.match(url.origin + url.pathname, options).then(function (hit) {
            if (hit || url.pathname === "/acceptance/") {
              return hit;
            }
            return cache.match(url.origin + url.pathname, { ignoreVary: true, ignoreSearch: true });
          })
        );
      });
    })
    .then(function (hit) {
      return hit ? marked(hit) : hit;
    });
}

function marked(response) {
  return response.text().then(function (html) {
    return new Response(html.replace("data-rendered=", 'data-copy="1" data-rendered='), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  });
}

function offline() {
  return caches.open(PAGES).then(function (cache) {
    return cache.match(self.location.origin + FALLBACK, { ignoreVary: true }).then(function (hit) {
      return (
        (hit && marked(hit)) ||
        new Response(
          "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
            "<title>离线</title><p>当前无网络，本页未保存在本机。请联网后再打开。</p>",
          { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } }
        )
      );
    });
  });
}

function page(event, url) {
  var request = event.request;
  var network = fetch(request);
  // Kept while the worker lives, even when the copy has already answered (a slow network).
  event.waitUntil(
    network
      .then(function (response) {
        // A redirect (to the login page) or an error page is not a copy worth keeping.
        if (response.ok && response.type === "basic" && !response.redirected) {
          var copy = response.clone();
          return caches.open(PAGES).then(function (cache) {
            return cache.put(request, copy);
          });
        }
        return null;
      })
      .catch(function () {})
  );
  return new Promise(function (resolve) {
    var done = false;
    function answer(response) {
      if (!done) {
        done = true;
        resolve(response);
      }
    }
    var timer = setTimeout(function () {
      copyOf(request, url).then(function (hit) {
        if (hit) {
          answer(hit);
        }
      });
    }, PATIENCE_MS);
    network.then(
      function (response) {
        clearTimeout(timer);
        answer(response);
      },
      function () {
        clearTimeout(timer);
        copyOf(request, url).then(function (hit) {
          answer(hit || offline());
        });
      }
    );
  });
}
