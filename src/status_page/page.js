// The status page's one script, served inline in the page's script element and allowed by the
// Content-Security-Policy through its SHA-256 hash (html.rs computes it from these bytes as
// they are served: any edit here changes the hash with it).
//
// Without it the page shows every row. With it: a filter box (its text kept for the tab in
// sessionStorage) and an automatic refresh every `data-refresh-seconds` of the table's main element (0: none):
// the page fetches itself and swaps the table and the summary in place, so the scroll
// position and the filter stay. The body's data-filter-ms, data-refresh-ms and
// data-refreshes attributes say how long the last filter and refresh took and how many
// refreshes succeeded (the end-to-end tests read them).
(function () {
  var filter = document.getElementById('filter'),
    tools = document.getElementById('tools'),
    info = document.getElementById('refreshed'),
    main = document.getElementById('status'),
    key = 'clusterlink-status-filter',
    refreshes = 0;
  tools.hidden = false;
  try {
    var saved = sessionStorage.getItem(key);
    if (saved && !filter.value) filter.value = saved;
  } catch (e) {}

  // Shows the rows whose data-f contains the filter text, and the cluster and link rows
  // above them (a row's data-c and data-l name its cluster and link).
  function apply() {
    var started = performance.now(),
      q = filter.value.trim().toLowerCase(),
      rows = main.querySelectorAll('tbody tr'),
      cs = {},
      ls = {},
      i,
      r;
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      r.m = !q || r.getAttribute('data-f').indexOf(q) >= 0;
      if (r.m) {
        cs[r.getAttribute('data-c')] = 1;
        if (r.hasAttribute('data-l')) ls[r.getAttribute('data-l')] = 1;
      }
    }
    for (i = 0; i < rows.length; i++) {
      r = rows[i];
      var cl = r.className.charAt(0);
      r.hidden = !(
        r.m ||
        (cl === 'c' && cs[r.getAttribute('data-c')]) ||
        (cl === 'l' && ls[r.getAttribute('data-l')])
      );
    }
    try {
      sessionStorage.setItem(key, filter.value);
    } catch (e) {}
    document.body.setAttribute('data-filter-ms', String(Math.round(performance.now() - started)));
  }
  filter.addEventListener('input', apply);
  apply();

  var period = parseInt(main.getAttribute('data-refresh-seconds'), 10) * 1000;

  // Fetches the page again and swaps in its table and summary; then schedules the next.
  function refresh() {
    var started = performance.now();
    fetch(location.pathname + location.search, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html'),
          fresh = doc.getElementById('status'),
          sum = doc.getElementById('summary');
        if (!fresh) throw new Error('no table');
        var x = window.scrollX,
          y = window.scrollY;
        main.innerHTML = fresh.innerHTML;
        if (sum) document.getElementById('summary').innerHTML = sum.innerHTML;
        apply();
        window.scrollTo(x, y);
        refreshes++;
        document.body.setAttribute('data-refreshes', String(refreshes));
        document.body.setAttribute('data-refresh-ms', String(Math.round(performance.now() - started)));
        info.textContent = 'refreshed ' + new Date().toLocaleTimeString();
        info.className = 'muted';
      })
      .catch(function (e) {
        info.textContent = 'refresh failed: ' + e.message;
        info.className = 'err';
      })
      .then(function () {
        setTimeout(refresh, period);
      });
  }
  if (period > 0) setTimeout(refresh, period);
})();
