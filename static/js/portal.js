// Behaviour every page may ask for by attribute, so that no page needs inline script (the
// Content-Security-Policy allows scripts from this site's static files only).
//   <form data-confirm="确定…？">   asks before submitting (a submit button's own data-confirm
//                                  asks when that button submits)
//   <button data-print>            prints the page
//   <select data-navigate>         goes to the chosen option's value (a URL)
//   <a data-back href="…">         goes back a page, or to href when there is none
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter && event.submitter.dataset.confirm ? event.submitter : null;
    var form = event.target.closest("form[data-confirm]");
    var question = button ? button.dataset.confirm : form && form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
      return;
    }
    var back = event.target.closest("a[data-back]");
    if (back && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-navigate]");
    if (select && select.value) {
      window.location = select.value;
    }
  });
})();
