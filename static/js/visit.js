// The visit form on a phone.
(function () {
  "use strict";

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

  // A form sent back with errors keeps the photos chosen: a browser empties a file input on every
  // page load, so the form is sent by fetch and the page that comes back takes this page's place
  // around this same file input. Saved, the page goes where the server says.
  function keepPhotos(form) {
    form.addEventListener("submit", function (event) {
      var photos = form.querySelector("input[type=file]");
      if (!window.fetch || !window.FormData || !photos || !photos.files.length) {
        return; // nothing to lose: a plain post
      }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "正在保存……";
      fetch(form.getAttribute("action") || window.location.href, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Visit-Form": "fetch" },
      })
        .then(function (response) {
          var next = response.headers.get("X-Location");
          if (response.status === 204 && next) {
            window.location.assign(next);
            return null;
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
          document.querySelector("main.page").replaceWith(main);
          keepPhotos(main.querySelector("form.visit-form"));
          var summary = main.querySelector("[data-testid=error-summary]");
          if (summary) {
            summary.scrollIntoView();
            summary.focus();
          }
        })
        .catch(function () {
          button.disabled = false;
          button.textContent = "保存验收记录";
          window.alert("网络异常，未能保存，请稍后再试。已填写的内容仍在本页。");
        });
    });
  }

  locate();
  var form = document.querySelector("form.visit-form");
  if (form) {
    keepPhotos(form);
  }
})();
