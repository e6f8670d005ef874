// The phone's location, when the user allows it; the visit is saved without it otherwise.
(function () {
  "use strict";
  if (!navigator.geolocation) {
    return;
  }
  navigator.geolocation.getCurrentPosition(function (p) {
    document.getElementById("id_latitude").value = p.coords.latitude.toFixed(6);
    document.getElementById("id_longitude").value = p.coords.longitude.toFixed(6);
    document.getElementById("location-status").textContent =
      "位置：已记录（±" + Math.round(p.coords.accuracy) + " 米）";
  });
})();
