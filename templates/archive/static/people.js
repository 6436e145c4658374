// The people directory's filter: a text box matching expertise and interests by their
// folded words (as gateway.adoption.topics.tag_matches does: "securite" finds
// "Sécurité", "testing" finds "Penetration testing", "art" does not find "party"), and
// a department list. Without JavaScript the page stays a plain list; a tag link from
// a person's page (people/#tag) selects that tag.
(function () {
  var form = document.getElementById("people-filter");
  if (!form) {
    return;
  }
  var text = document.getElementById("people-filter-text");
  var department = document.getElementById("people-filter-department");
  var count = document.getElementById("people-filter-count");
  var stop = (form.getAttribute("data-stop-words") || "").split(" ");

  // The query's words folded as the page's data-tags are: Python casefolds (fold_tag),
  // here the marks go after NFKD and toLowerCase does the rest (the same for the
  // letters of tags people write: "ß" is the exception, and both sides keep it).
  function words(value) {
    return value
      .normalize("NFKD")
      .replace(/\p{M}/gu, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .split(" ")
      .filter(function (word) {
        return word && stop.indexOf(word) < 0;
      });
  }

  function tagMatches(tag, query) {
    if (!tag.length || !query.length) {
      return false;
    }
    var every = query.every(function (word) {
      return tag.indexOf(word) >= 0;
    });
    return every || (" " + query.join(" ") + " ").indexOf(" " + tag.join(" ") + " ") >= 0;
  }

  // data-tags hold folded words already ("|" between tags, a space between words):
  // split once here, so that a keystroke folds only the query.
  var tagsOf = new Map();
  document.querySelectorAll("ul.people > li, dl.expertise > dt").forEach(function (element) {
    var tags = (element.getAttribute("data-tags") || "").split("|");
    tagsOf.set(
      element,
      tags.map(function (tag) {
        return tag.split(" ").filter(Boolean);
      })
    );
  });

  function anyTag(element, query) {
    return tagsOf.get(element).some(function (tag) {
      return tagMatches(tag, query);
    });
  }

  function apply() {
    var query = words(text.value);
    var wanted = department.value;
    var shown = 0;
    document.querySelectorAll("ul.people > li").forEach(function (item) {
      var visible =
        (!query.length || anyTag(item, query)) &&
        (!wanted || item.getAttribute("data-department") === wanted);
      item.classList.toggle("filtered-out", !visible);
      shown += visible ? 1 : 0;
    });
    // "Who knows about what": a tag stays while it matches and someone of the chosen
    // department is under it; only they stay under it.
    document.querySelectorAll("dl.expertise > dt").forEach(function (term) {
      var people = term.nextElementSibling;
      var someone = false;
      people.querySelectorAll(".person").forEach(function (person) {
        var inDepartment = !wanted || person.getAttribute("data-department") === wanted;
        person.classList.toggle("filtered-out", !inDepartment);
        someone = someone || inDepartment;
      });
      var visible = someone && (!query.length || anyTag(term, query));
      term.classList.toggle("filtered-out", !visible);
      people.classList.toggle("filtered-out", !visible);
    });
    var filtering = query.length || wanted;
    count.textContent = filtering ? count.getAttribute("data-shown").replace("{n}", shown) : "";
  }

  function fromHash() {
    var tag = window.location.hash.slice(1);
    try {
      tag = decodeURIComponent(tag);
    } catch (malformed) {
      return; // a hand-typed "%" that is not an escape: leave the list whole
    }
    if (tag) {
      text.value = tag;
      apply();
    }
  }

  form.classList.remove("filtered-out");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });
  text.addEventListener("input", apply);
  department.addEventListener("change", apply);
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
