/* livecov owners index: draws the table from the embedded JSON (see SITE.md) and keeps
   the stat cards, level badges and "Showing …" line in step with the filters.
   Vanilla ES2017, no libraries; works from file://. */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('livecov-data').textContent);
  var owners = data.owners || [];
  var builds = data.builds || {};
  var levels = (data.levels || []).slice().sort(function (a, b) { return b.min - a.min; });
  var hidePrefixes = data.hide_namespace_prefixes || [];

  var $ = function (id) { return document.getElementById(id); };
  var tbody = $('owners').tBodies[0];
  var NCOLS = $('owners').tHead.rows[0].cells.length;

  // ---------- helpers ----------
  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function esc(s) { return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function pctOf(covered, statements) { return statements > 0 ? (covered * 100) / statements : 0; }
  function fmtPct(p) { return p.toFixed(1) + '%'; }
  function fmtInt(n) { return String(Math.round(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function levelOf(p) {
    for (var i = 0; i < levels.length; i++) if (p >= levels[i].min) return levels[i];
    return levels[levels.length - 1] || null;
  }
  // Black or white text, whichever reads better on the level colour.
  function inkFor(hex) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || '');
    if (!m) return '#fff';
    var r = parseInt(m[1], 16), g = parseInt(m[2], 16), b = parseInt(m[3], 16);
    return (0.299 * r + 0.587 * g + 0.114 * b) > 160 ? '#1f2328' : '#fff';
  }
  function slug(s) { return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''); }
  function repoKey(url) { return String(url || '').replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, ''); }
  function sourceStatus(b) { return b && b.source ? b.source : 'none'; }

  // ---------- rows model ----------
  var rows = owners.map(function (o, i) {
    var b = builds[o.build] || null;
    var p = pctOf(o.covered, o.statements);
    var lv = levelOf(p);
    return {
      i: i, o: o, b: b, pct: p, level: lv ? lv.name : '',
      repo: b ? repoKey(b.repo) : '',
      commit: b && b.commit ? b.commit : '',
      hay: [o.namespace, o.owner, o.owner_type, o.binary]
        .concat(o.containers || [], o.pods || [], o.images || []).join('\n').toLowerCase(),
      tr: null, details: null, visible: true
    };
  });

  function ownerCell(o) {
    var t = o.owner_type || '';
    var h = '<span class="type-badge type-' + esc(slug(t)) + '">' + esc(t) + '</span>';
    if (o.owner) h += '<span class="owner-name">' + esc(o.owner) + '</span>';
    return h;
  }

  function binaryCell(o) {
    var c = (o.containers || []).join(', ');
    return (c ? '<span class="containers">' + esc(c) + '</span> / ' : '/ ') + esc(o.binary);
  }

  function covCell(p, lv) {
    var color = lv ? lv.color : '#999';
    return '<div class="cov"><div class="bar"><div class="bar-fill" style="width:' + Math.min(100, p).toFixed(1) +
      '%;background:' + esc(color) + '"></div></div><span class="pct" style="background:' + esc(color) +
      ';color:' + inkFor(color) + '">' + fmtPct(p) + '</span></div>';
  }

  function commitCell(r) {
    var st = sourceStatus(r.b);
    var title = r.b ? (r.b.repo ? r.b.repo + (r.commit ? '@' + r.commit : '') : 'no repository known') +
      (r.b.source_note ? ' — ' + r.b.source_note : '') : 'unknown build';
    var text = r.commit ? r.commit.slice(0, 8) : '—';
    var cls = r.commit ? 'commit-' + st : 'commit-none commit-' + st;
    return '<span class="commit ' + esc(cls) + '" title="' + esc(title) + '">' + esc(text) + '</span>';
  }

  function reportCell(r) {
    return r.b && r.b.page ? '<a href="' + esc(r.b.page) + '">View</a>' : '<span class="muted">No page</span>';
  }

  function rowHtml(r) {
    var o = r.o, lv = levelOf(r.pct);
    var seen = 'First seen: ' + (o.first_seen || '?') + '\nLast seen: ' + (o.last_seen || '?');
    return '<tr class="owner-row level-' + esc(r.level) + '"' + (r.visible ? '' : ' hidden') + ' data-i="' + r.i + '" data-build="' + esc(o.build) +
      '" data-namespace="' + esc(o.namespace) + '" data-level="' + esc(r.level) + '">' +
      '<td>' + esc(o.namespace) + '</td>' +
      '<td>' + ownerCell(o) + '</td>' +
      '<td class="bin col-binary" title="' + esc(seen) + '">' + binaryCell(o) + '</td>' +
      '<td class="num">' + covCell(r.pct, lv) + '</td>' +
      '<td class="num col-stmts">' + fmtInt(o.covered) + ' / ' + fmtInt(o.statements) + '</td>' +
      '<td class="col-commit">' + commitCell(r) + '</td>' +
      '<td class="report">' + reportCell(r) + '</td></tr>';
  }

  function list(label, items) {
    if (!items || !items.length) return '<dt>' + esc(label) + '</dt><dd class="muted">—</dd>';
    return '<dt>' + esc(label) + ' (' + items.length + ')</dt><dd>' + items.map(esc).join(', ') + '</dd>';
  }

  function detailsHtml(r) {
    var o = r.o, b = r.b;
    var h = '<dl class="details">' + list('Pods', o.pods) + list('Hosts', o.hosts) + list('Images', o.images) +
      list('Containers', o.containers);
    h += '<dt>Build</dt><dd class="mono">' + (b && b.page ? '<a href="' + esc(b.page) + '">' + esc(o.build) + '</a>' : esc(o.build)) + '</dd>';
    h += '<dt>Source</dt><dd>' + (b && b.repo ? esc(b.repo) + (b.commit ? '@<span class="mono">' + esc(b.commit) + '</span>' : '') : '<span class="muted">unknown</span>') + '</dd>';
    h += '<dt>Source status</dt><dd>' + esc(sourceStatus(b)) + (b && b.source_note ? ' — ' + esc(b.source_note) : '') + '</dd>';
    if (b && b.language) h += '<dt>Language</dt><dd>' + esc(b.language) + (b.language === 'python' ? ' (coverage.py: hits are 0/1)' : '') + '</dd>';
    h += '<dt>Build statements</dt><dd>' + (b ? fmtInt(b.covered) + ' / ' + fmtInt(b.statements) + ' covered by any owner (' + fmtPct(pctOf(b.covered, b.statements)) + ')' : '—') + '</dd>';
    h += '<dt>First seen</dt><dd>' + esc(o.first_seen || '—') + '</dd><dt>Last seen</dt><dd>' + esc(o.last_seen || '—') + '</dd>';
    return '<tr class="details-row" data-i="' + r.i + '"><td colspan="' + NCOLS + '">' + h + '</dl></td></tr>';
  }

  // ---------- problems the compile recorded ----------
  (function () {
    if (data.incomplete) {
      $('incomplete').textContent = 'Incomplete: ' + data.incomplete;
      $('incomplete').hidden = false;
    }
    var d = data.diagnostics || [];
    if (!d.length) return;
    var errors = d.filter(function (x) { return x.severity === 'error'; }).length;
    $('diagnostics-summary').textContent = d.length + (d.length === 1 ? ' problem' : ' problems') +
      ' while compiling (' + errors + ' inputs failed, ' + (d.length - errors) + ' files or records left out)';
    var h = '';
    d.forEach(function (x) {
      h += '<li class="diag-' + esc(x.severity) + '"><span class="mono">' + esc(x.dir) + '</span>: ' + esc(x.message) + '</li>';
    });
    $('diagnostics-list').innerHTML = h;
    $('diagnostics').hidden = false;
  })();

  // ---------- scenarios: what each one covered, per build ----------
  (function () {
    var by = {};
    Object.keys(builds).forEach(function (id) {
      var b = builds[id], sc = b.scenarios || {};
      Object.keys(sc).forEach(function (name) { (by[name] || (by[name] = [])).push({ id: id, b: b, covered: sc[name] }); });
    });
    var names = Object.keys(by).sort();
    if (!names.length) return;
    $('scenarios-summary').textContent = names.length + (names.length === 1 ? ' scenario' : ' scenarios') +
      ': what each one executed, per build';
    var h = '';
    names.forEach(function (name) {
      by[name].sort(function (x, y) { return x.b.binary.localeCompare(y.b.binary); }).forEach(function (e) {
        var p = pctOf(e.covered, e.b.statements), lv = levelOf(p);
        var link = e.b.page ? '<a href="' + esc(e.b.page + '?scenario=' + encodeURIComponent(name)) + '">View</a>' : '<span class="muted">No page</span>';
        h += '<tr><td>' + esc(name) + '</td><td>' + esc(e.b.binary || e.id.slice(0, 12)) + '</td><td class="num">' +
          (lv ? '<span class="pct" style="background:' + esc(lv.color) + ';color:' + inkFor(lv.color) + '">' + fmtPct(p) + '</span>' : fmtPct(p)) +
          '</td><td class="num">' + fmtInt(e.covered) + ' / ' + fmtInt(e.b.statements) + '</td><td>' + link + '</td></tr>';
      });
    });
    $('scenario-table').tBodies[0].innerHTML = h;
    $('scenarios').hidden = false;
  })();

  // ---------- static controls ----------
  $('subtitle').textContent = [data.collection ? 'Collection: ' + data.collection : '', owners.length + ' owner groups', Object.keys(builds).length + ' builds']
    .filter(Boolean).join(' · ');

  function fillSelect(sel, values, label) {
    var h = '';
    values.forEach(function (v) { h += '<option value="' + esc(v) + '">' + esc(label ? label(v) : v) + '</option>'; });
    sel.insertAdjacentHTML('beforeend', h);
  }
  function distinct(f) {
    var s = new Set();
    rows.forEach(function (r) { s.add(f(r)); });
    return Array.from(s).sort(function (a, b) { return a.localeCompare(b); });
  }
  fillSelect($('filter-namespace'), distinct(function (r) { return r.o.namespace; }));
  fillSelect($('filter-type'), distinct(function (r) { return r.o.owner_type; }));
  (function () {
    var h = '';
    levels.forEach(function (l) { h += '<option value="' + esc(l.name) + '">' + esc(l.label) + ' (≥ ' + l.min + '%)</option>'; });
    $('filter-level').insertAdjacentHTML('beforeend', h);
  })();

  // Hide-prefix checkboxes, on by default.
  (function () {
    var h = '';
    hidePrefixes.forEach(function (p, i) {
      h += '<label><input type="checkbox" id="hide-' + i + '" data-prefix="' + esc(p) + '" checked> Hide ' + esc(p) + '*</label>';
    });
    $('hides').innerHTML = h;
  })();

  // Level badges.
  (function () {
    var h = '';
    levels.forEach(function (l) {
      h += '<button type="button" class="level-badge" data-level="' + esc(l.name) + '" title="Filter: ' + esc(l.label) + ' (≥ ' + l.min + '%)">' +
        '<span class="dot" style="background:' + esc(l.color) + '"></span>' + esc(l.label) + ' <span class="count">0</span></button>';
    });
    $('levels').innerHTML = h;
  })();

  // Source-repo multi-select: "All" on by default; ticking All clears the others and
  // ticking any other clears All.
  var repoBox = $('filter-repo');
  var repoTrigger = repoBox.querySelector('.multi-trigger');
  var repoPanel = repoBox.querySelector('.multi-panel');
  var repoSearch = repoBox.querySelector('.multi-search');
  var repoKeys = distinct(function (r) { return r.repo; });
  (function () {
    var h = '<label class="all"><input type="checkbox" id="repo-all" value="*" checked> All (*)</label>';
    repoKeys.forEach(function (k, i) {
      h += '<label data-repo="' + esc(k.toLowerCase()) + '"><input type="checkbox" class="repo-option" id="repo-' + i + '" value="' + esc(k) + '"> ' +
        (k ? esc(k) : '<span class="muted">(no repository)</span>') + '</label>';
    });
    repoBox.querySelector('.multi-options').innerHTML = h;
  })();
  var repoAll = $('repo-all');
  var repoOpts = Array.prototype.slice.call(repoBox.querySelectorAll('.repo-option'));

  function selectedRepos() {
    if (repoAll.checked) return null;
    var s = new Set();
    repoOpts.forEach(function (c) { if (c.checked) s.add(c.value); });
    return s;
  }
  function updateRepoLabel() {
    var s = selectedRepos();
    repoTrigger.textContent = s === null ? 'All source repos' : s.size === 0 ? 'No repos selected' :
      s.size === 1 ? '1 repo selected' : s.size + ' repos selected';
  }
  function openRepoPanel(open) {
    repoPanel.hidden = !open;
    repoTrigger.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      // Keep the panel inside the window, whichever side of the row the trigger is on.
      var r = repoTrigger.getBoundingClientRect();
      var vw = document.documentElement.clientWidth;
      var w = Math.min(360, vw - 16);
      repoPanel.style.left = (r.left + w > vw - 8 ? Math.max(8, vw - 8 - w) - r.left : 0) + 'px';
      repoSearch.focus();
    }
  }
  repoTrigger.addEventListener('click', function () { openRepoPanel(repoPanel.hidden); });
  document.addEventListener('click', function (e) { if (!repoBox.contains(e.target)) openRepoPanel(false); });
  repoBox.addEventListener('keydown', function (e) { if (e.key === 'Escape') { openRepoPanel(false); repoTrigger.focus(); } });
  repoSearch.addEventListener('input', function () {
    var q = repoSearch.value.toLowerCase();
    repoBox.querySelectorAll('.multi-options label[data-repo]').forEach(function (l) {
      l.hidden = q !== '' && l.getAttribute('data-repo').indexOf(q) < 0;
    });
  });
  repoBox.querySelector('.multi-options').addEventListener('change', function (e) {
    if (e.target === repoAll) {
      if (repoAll.checked) repoOpts.forEach(function (c) { c.checked = false; });
    } else if (e.target.checked) {
      repoAll.checked = false;
    }
    updateRepoLabel();
    applyFilters();
  });

  // ---------- filtering ----------
  function activeHides() {
    var out = [];
    hidePrefixes.forEach(function (p, i) { var c = $('hide-' + i); if (c && c.checked) out.push(p); });
    return out;
  }

  function applyFilters() {
    var q = $('search').value.trim().toLowerCase();
    var ns = $('filter-namespace').value, type = $('filter-type').value, level = $('filter-level').value;
    var repos = selectedRepos();
    var hides = activeHides();
    var shown = 0, hiddenByDefault = 0;
    var pods = new Set(), seenBuilds = new Set(), stmts = 0, cov = 0;
    var perLevel = {};
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], o = r.o;
      var ok = (!q || r.hay.indexOf(q) >= 0) && (!ns || o.namespace === ns) && (!type || o.owner_type === type) &&
        (!level || r.level === level) && (repos === null || repos.has(r.repo));
      if (ok && hides.length) {
        for (var h = 0; h < hides.length; h++) {
          if (o.namespace.lastIndexOf(hides[h], 0) === 0) { ok = false; hiddenByDefault++; break; }
        }
      }
      if (ok !== r.visible) {
        r.visible = ok;
        if (r.tr) r.tr.hidden = !ok;
        if (!ok && r.details) collapse(r);
      }
      if (!ok) continue;
      shown++;
      perLevel[r.level] = (perLevel[r.level] || 0) + 1;
      (o.pods || []).forEach(function (p) { pods.add(o.namespace + '/' + p); });
      if (!seenBuilds.has(o.build)) {
        seenBuilds.add(o.build);
        var b = r.b || o;
        stmts += b.statements || 0;
        cov += b.covered || 0;
      }
    }
    $('stat-owners').textContent = fmtInt(shown);
    $('stat-pods').textContent = fmtInt(pods.size);
    $('stat-coverage').textContent = fmtPct(pctOf(cov, stmts));
    $('stat-coverage').title = fmtInt(cov) + ' of ' + fmtInt(stmts) + ' statements, over ' + seenBuilds.size + ' distinct builds';
    $('stat-statements').textContent = fmtInt(stmts);
    $('levels').querySelectorAll('.level-badge').forEach(function (btn) {
      var n = perLevel[btn.getAttribute('data-level')] || 0;
      btn.querySelector('.count').textContent = fmtInt(n);
      btn.classList.toggle('empty', n === 0);
      btn.classList.toggle('active', btn.getAttribute('data-level') === level);
    });
    var line = 'Showing ' + fmtInt(shown) + ' of ' + fmtInt(rows.length) + ' owners';
    if (repos !== null) line += ' for ' + (repos.size === 1 ? '1 selected source repo' : repos.size + ' selected source repos');
    if (hiddenByDefault) line += ' (' + fmtInt(hiddenByDefault) + ' hidden by default filters)';
    $('showing').textContent = line;
    var empty = tbody.querySelector('tr.empty-row');
    if (shown === 0 && !empty && pending >= order.length) {
      tbody.insertAdjacentHTML('beforeend', '<tr class="empty-row"><td colspan="' + NCOLS + '">No owners match these filters.</td></tr>');
    } else if (shown > 0 && empty) {
      empty.remove();
    }
  }

  ['filter-namespace', 'filter-type', 'filter-level'].forEach(function (id) { $(id).addEventListener('change', applyFilters); });
  $('search').addEventListener('input', applyFilters);
  $('hides').addEventListener('change', applyFilters);
  $('levels').addEventListener('click', function (e) {
    var btn = e.target.closest('.level-badge');
    if (!btn) return;
    var sel = $('filter-level'), name = btn.getAttribute('data-level');
    sel.value = sel.value === name ? '' : name;
    applyFilters();
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === '/' && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      $('search').focus();
    }
  });

  // ---------- expand / collapse ----------
  function collapse(r) {
    if (r.details) { r.details.remove(); r.details = null; }
    r.tr.classList.remove('expanded');
    r.tr.setAttribute('aria-expanded', 'false');
  }
  tbody.addEventListener('click', function (e) {
    if (e.target.closest('a')) return;
    var tr = e.target.closest('tr.owner-row');
    if (!tr) return;
    var r = rows[+tr.getAttribute('data-i')];
    if (r.details) { collapse(r); return; }
    tr.insertAdjacentHTML('afterend', detailsHtml(r));
    r.details = tr.nextElementSibling;
    tr.classList.add('expanded');
    tr.setAttribute('aria-expanded', 'true');
  });

  // ---------- sorting ----------
  var sortKey = null, sortDir = 1;
  var keyFns = {
    namespace: function (r) { return r.o.namespace.toLowerCase(); },
    owner: function (r) { return (r.o.owner_type + ' ' + r.o.owner).toLowerCase(); },
    binary: function (r) { return ((r.o.containers || []).join(',') + ' / ' + r.o.binary).toLowerCase(); },
    coverage: function (r) { return r.pct; },
    statements: function (r) { return r.o.statements || 0; },
    commit: function (r) { return r.commit; }
  };
  function sortRows(key) {
    flush();
    if (sortKey === key) sortDir = -sortDir; else { sortKey = key; sortDir = 1; }
    var f = keyFns[key];
    order = rows.slice().sort(function (a, b) {
      var x = f(a), y = f(b), c;
      if (typeof x === 'number') c = x - y; else c = x < y ? -1 : x > y ? 1 : 0;
      if (c === 0) {
        var fa = a.o.first_seen || '', fb = b.o.first_seen || '';
        c = fa < fb ? -1 : fa > fb ? 1 : a.i - b.i;
        return c; // ties always by first_seen ascending
      }
      return c * sortDir;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (r) { frag.appendChild(r.tr); if (r.details) frag.appendChild(r.details); });
    var empty = tbody.querySelector('tr.empty-row');
    if (empty) frag.appendChild(empty);
    tbody.appendChild(frag);
    $('owners').tHead.querySelectorAll('th[data-sort]').forEach(function (th) {
      var on = th.getAttribute('data-sort') === key;
      th.classList.toggle('sort-asc', on && sortDir === 1);
      th.classList.toggle('sort-desc', on && sortDir === -1);
      if (on) th.setAttribute('aria-sort', sortDir === 1 ? 'ascending' : 'descending'); else th.removeAttribute('aria-sort');
    });
  }
  $('owners').tHead.addEventListener('click', function (e) {
    var th = e.target.closest('th[data-sort]');
    if (th && keyFns[th.getAttribute('data-sort')]) sortRows(th.getAttribute('data-sort'));
  });

  // ---------- first draw ----------
  // Rows go in by chunks: the first fills the screen and paints at once, the rest follow
  // in later tasks, so a large index paints fast. livecovReady waits for the last chunk.
  var order = rows;   // display order
  var pending = 0;    // order[pending..] not yet in the DOM
  function insertChunk(maxVisible) {
    var html = [], start = pending, vis = 0;
    while (pending < order.length && vis < maxVisible) {
      var r = order[pending++];
      html.push(rowHtml(r));
      if (r.visible) vis++;
    }
    tbody.insertAdjacentHTML('beforeend', html.join(''));
    var tr = tbody.lastElementChild;
    for (var k = pending - 1; k >= start; k--) { order[k].tr = tr; tr = tr.previousElementSibling; }
  }
  function flush() {
    if (pending < order.length) { insertChunk(Infinity); finish(); }
  }
  function finish() {
    if (window.livecovReady) return;
    applyFilters();
    window.livecovReady = true;
    if (window.performance && performance.mark) performance.mark('livecov-ready');
  }
  function more() {
    if (pending >= order.length) { finish(); return; }
    insertChunk(150);
    setTimeout(more, 0);
  }
  rows.forEach(function (r) { r.visible = true; });
  updateRepoLabel();
  applyFilters();   // computes visibility before any row exists
  insertChunk(60);
  setTimeout(more, 0);
})();
