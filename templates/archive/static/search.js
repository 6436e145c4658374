// The search page: Pagefind's interface over the index built by `gateway archive build`,
// started with the words typed in the search box of any page (?q=...). Its box is the
// page's only one (the header's is left out here), labelled for screen readers.
(function () {
  var element = document.getElementById("search");
  if (typeof PagefindUI === "undefined") {
    element.textContent = element.getAttribute("data-missing");
    return;
  }
  var ui = new PagefindUI({ element: "#search", showSubResults: true, showImages: false });
  var input = element.querySelector("input");
  if (input) {
    input.setAttribute("aria-label", element.getAttribute("data-label"));
  }
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
})();
