/* livecov build page: file table (drawn virtually, so 10,000 files stay smooth), directory
   tree with roll-ups, and the source viewer, which loads f/<n>.js on demand through a
   <script> element calling the global livecovFile(n, data) (fetch() is unavailable from
   file://). Columns in the data are 1-based UTF-8 byte offsets, end exclusive. See SITE.md.
   Vanilla ES2017, no libraries. */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('livecov-data').textContent);
  var $ = function (id) { return document.getElementById(id); };

  // The build data carries no levels; these are the index's defaults (same names/colours).
  var DEFAULT_LEVELS = [
    { name: 'excellent', label: 'Excellent', min: 70, color: '#28a745' },
    { name: 'good', label: 'Good', min: 50, color: '#5cb85c' },
    { name: 'moderate', label: 'Moderate', min: 30, color: '#ffc107' },
    { name: 'poor', label: 'Poor', min: 15, color: '#fd7e14' },
    { name: 'critical', label: 'Critical', min: 0, color: '#dc3545' }
  ];
  var levels = (data.levels && data.levels.length ? data.levels : DEFAULT_LEVELS).slice()
    .sort(function (a, b) { return b.min - a.min; });

  // ---------- helpers ----------
  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  var ESC_RE = /[&<>"']/g;
  function esc(s) { return String(s == null ? '' : s).replace(ESC_RE, function (c) { return ESC[c]; }); }
  var TEXT_RE = /[&<>]/;
  function escText(s) { return TEXT_RE.test(s) ? s.replace(/[&<>]/g, function (c) { return ESC[c]; }) : s; }
  function pctOf(c, s) { return s > 0 ? (c * 100) / s : 0; }
  function fmtPct(p) { return p.toFixed(1) + '%'; }
  function fmtInt(n) { return String(Math.round(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function levelOf(p) {
    for (var i = 0; i < levels.length; i++) if (p >= levels[i].min) return levels[i];
    return levels[levels.length - 1];
  }
  function inkFor(hex) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || '');
    if (!m) return '#fff';
    var r = parseInt(m[1], 16), g = parseInt(m[2], 16), b = parseInt(m[3], 16);
    return (0.299 * r + 0.587 * g + 0.114 * b) > 160 ? '#1f2328' : '#fff';
  }
  function pill(p) {
    var lv = levelOf(p);
    return '<span class="pct" style="background:' + esc(lv.color) + ';color:' + inkFor(lv.color) + '">' + fmtPct(p) + '</span>';
  }
  function bar(p, cls) {
    return '<span class="' + (cls || 'bar') + '"><span class="bar-fill" style="display:block;width:' + Math.min(100, p).toFixed(1) +
      '%;background:' + esc(levelOf(p).color) + '"></span></span>';
  }
  function isTyping() {
    var a = document.activeElement;
    return !!a && (/^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName) || a.isContentEditable);
  }

  // ---------- files model ----------
  var files = (data.files || []).map(function (f, n) {
    var p = pctOf(f.covered, f.statements);
    return { n: n, path: f.path, lower: f.path.toLowerCase(), statements: f.statements || 0, covered: f.covered || 0,
      pct: p, level: levelOf(p).name, source: f.source || 'ok', note: f.note || '',
      chunk: f.chunk != null ? f.chunk : n };
  });
  var pathIndex = new Map();
  files.forEach(function (f) { pathIndex.set(f.path, f.n); });

  // ---------- scenarios ----------
  // data.scenarios[i] is bit i of a block's 7th element; scenarioSel >= 0 shows only what
  // that scenario executed.
  var scenarios = data.scenarios || [], scenarioSel = -1;
  function cnt(b) { return scenarioSel < 0 || ((b[6] | 0) & (1 << scenarioSel)) ? b[5] : 0; }
  function scenarioNames(mask) {
    var out = [];
    for (var i = 0; i < scenarios.length; i++) if (mask & (1 << i)) out.push(scenarios[i].name);
    return out;
  }
  function lnCell(href, L, mask) {
    var t = scenarios.length ? ' title="' + esc(mask ? 'Executed by: ' + scenarioNames(mask).join(', ') : 'No scenario executed this line') + '"' : '';
    return '<td class="ln"' + t + '><a href="' + href + L + '">' + L + '</a></td>';
  }

  // ---------- header ----------
  (function header() {
    if (data.index) { $('back').href = data.index; $('back').hidden = false; }
    $('subtitle').textContent = data.subtitle || '';
    var s = data.source || {};
    var bits = [];
    if (s.repo) bits.push('Source: ' + s.repo + (s.commit ? ' @ ' + s.commit : ''));
    else bits.push('Source: unknown repository');
    if (data.language) bits.push('language: ' + data.language);
    if (data.mode) bits.push('counter mode: ' + data.mode + (data.language === 'python' ? ' (coverage.py records no counts: hits are 0/1)' : ''));
    if (data.build) bits.push('build ' + data.build);
    $('source-info').textContent = bits.join(' · ');
    if (s.status && s.status !== 'ok') {
      $('source-banner').textContent = 'Source ' + s.status + (s.note ? ': ' + s.note : '');
      $('source-banner').hidden = false;
    }
    var owners = data.owners || [];
    if (owners.length) {
      var det = $('owner-groups');
      det.hidden = false;
      det.querySelector('summary').textContent = 'Show all ' + owners.length + ' owner group' + (owners.length === 1 ? '' : 's') + ' running this binary';
      var drawn = false;
      det.addEventListener('toggle', function () {
        if (drawn || !det.open) return;
        drawn = true;
        var h = '';
        owners.forEach(function (o) {
          var pods = o.pods || [];
          h += '<tr><td>' + esc(o.namespace) + '</td><td>' + esc(o.owner_type) + '</td><td>' + (o.owner ? esc(o.owner) : '—') +
            '</td><td>' + esc(o.binary) + '</td><td>' + esc((o.containers || []).join(', ')) + '</td><td title="' + esc(pods.join('\n')) + '">' +
            (pods.length > 3 ? esc(pods.slice(0, 3).join(', ')) + ' … (' + pods.length + ')' : esc(pods.join(', '))) +
            '</td><td>' + esc((o.hosts || []).join(', ')) + '</td></tr>';
        });
        $('owner-table').tBodies[0].innerHTML = h;
      });
    }
    if (scenarios.length) {
      // Which scenarios ran this build: pick one to see only what it executed.
      var opts = '<option value="-1">All scenarios</option>';
      scenarios.forEach(function (sc, i) {
        opts += '<option value="' + i + '">' + esc(sc.name) + ' · ' + fmtPct(pctOf(sc.covered, data.statements)) +
          ' (' + fmtInt(sc.covered) + ' / ' + fmtInt(data.statements) + ')</option>';
      });
      var more = data.scenarios_left_off ? ' <span class="muted">(' + data.scenarios_left_off + ' more scenarios not shown)</span>' : '';
      $('scenario-bar').innerHTML = '<label>Scenario <select id="scenario" aria-label="Scenario">' + opts + '</select></label>' + more +
        ' <span class="muted">Line numbers name the scenarios that executed the line.</span>';
      $('scenario-bar').hidden = false;
      var chosen = null;
      try { chosen = new URLSearchParams(location.search).get('scenario'); } catch (e) { /* old browsers */ }
      var pick = function () {
        scenarioSel = +$('scenario').value;
        var sc = scenarioSel >= 0 ? scenarios[scenarioSel] : null;
        $('stat-coverage').textContent = fmtPct(pctOf(sc ? sc.covered : data.covered, data.statements));
        $('stat-covered').textContent = fmtInt(sc ? sc.covered : data.covered);
        if (cur) { var n = cur.n; cur = null; if (cache.has(n)) drawFile(n, cache.get(n)); }
      };
      $('scenario').addEventListener('change', pick);
      // index.html links a scenario's pages with ?scenario=NAME.
      scenarios.forEach(function (sc, i) { if (sc.name === chosen) { $('scenario').value = String(i); pick(); } });
    }
    $('stat-files').textContent = fmtInt(files.length);
    $('stat-coverage').textContent = fmtPct(pctOf(data.covered, data.statements));
    $('stat-statements').textContent = fmtInt(data.statements);
    $('stat-covered').textContent = fmtInt(data.covered);

    var counts = {};
    files.forEach(function (f) { counts[f.level] = (counts[f.level] || 0) + 1; });
    var hb = '', ho = '';
    levels.forEach(function (l) {
      hb += '<button type="button" class="level-badge" data-level="' + esc(l.name) + '"' + (counts[l.name] ? '' : ' hidden') +
        ' title="Filter files: ' + esc(l.label) + ' (≥ ' + l.min + '%)"><span class="dot" style="background:' + esc(l.color) + '"></span>' +
        esc(l.label) + ' <span class="count">' + fmtInt(counts[l.name] || 0) + '</span></button>';
      ho += '<option value="' + esc(l.name) + '">' + esc(l.label) + ' (≥ ' + l.min + '%)</option>';
    });
    $('levels').innerHTML = hb;
    $('file-level').insertAdjacentHTML('beforeend', ho);
  })();

  // ---------- file table (virtual) ----------
  var wrap = $('files-wrap'), fbody = $('files-body'), fthead = $('files').tHead;
  var sortKey = 'path', sortDir = 1;
  var sorted = files.map(function (f) { return f.n; });
  var view = sorted.slice();
  var query = '', levelFilter = '', dirFilter = '';
  var selected = -1;
  var ROW_H = 31, measured = false, lastRange = '';

  function resort() {
    var f = sortKey === 'coverage' ? function (a, b) { return a.pct - b.pct; }
      : sortKey === 'statements' ? function (a, b) { return a.statements - b.statements; } : null;
    sorted.sort(function (x, y) {
      var a = files[x], b = files[y];
      var c = f ? f(a, b) * sortDir : 0;
      if (c !== 0) return c;
      c = a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
      return f ? c : c * sortDir;
    });
  }

  function refilter() {
    var out = [];
    for (var i = 0; i < sorted.length; i++) {
      var f = files[sorted[i]];
      if (query && f.lower.indexOf(query) < 0) continue;
      if (levelFilter && f.level !== levelFilter) continue;
      if (dirFilter && f.path.lastIndexOf(dirFilter, 0) !== 0) continue;
      out.push(f.n);
    }
    view = out;
    var line = 'Showing ' + fmtInt(view.length) + ' of ' + fmtInt(files.length) + ' files';
    if (dirFilter) line += ' under ' + dirFilter;
    $('files-showing').textContent = line;
    wrap.scrollTop = 0;
    drawRows(true);
  }

  function fileRowHtml(n) {
    var f = files[n];
    var cut = f.path.lastIndexOf('/') + 1;
    var tag = f.source === 'ok' ? '' : '<span class="tag tag-' + esc(f.source) + '" title="' + esc(f.note) + '">' +
      (f.source === 'missing' ? 'no source' : esc(f.source)) + '</span>';
    return '<tr class="file-row level-' + f.level + (n === selected ? ' selected' : '') + '" data-n="' + n + '" data-path="' + esc(f.path) +
      '"><td class="path" title="' + esc(f.path) + '"><span class="dir">' + esc(f.path.slice(0, cut)) + '</span><span class="base">' +
      esc(f.path.slice(cut)) + '</span>' + tag + '</td><td class="num"><span class="cov">' + bar(f.pct) + pill(f.pct) +
      '</span></td><td class="num c-stmts-cell">' + fmtInt(f.covered) + ' / ' + fmtInt(f.statements) + '</td></tr>';
  }

  function drawRows(force) {
    var h = wrap.clientHeight;
    if (!h) return; // hidden (source mode): drawn when shown again
    var total = view.length;
    var top = Math.max(0, wrap.scrollTop - fthead.offsetHeight);
    var first = Math.max(0, Math.floor(top / ROW_H) - 25);
    var last = Math.min(total, Math.ceil((top + h) / ROW_H) + 25);
    var key = first + ':' + last + ':' + total;
    if (!force && key === lastRange) return;
    lastRange = key;
    var parts = [];
    if (first > 0) parts.push('<tr class="spacer"><td colspan="3" style="height:' + first * ROW_H + 'px"></td></tr>');
    for (var i = first; i < last; i++) parts.push(fileRowHtml(view[i]));
    if (last < total) parts.push('<tr class="spacer"><td colspan="3" style="height:' + (total - last) * ROW_H + 'px"></td></tr>');
    if (!total) parts.push('<tr class="empty-row"><td colspan="3">No files match these filters.</td></tr>');
    fbody.innerHTML = parts.join('');
    if (!measured && last > first) {
      var r = fbody.querySelector('tr.file-row');
      if (r && r.offsetHeight) {
        measured = true;
        if (r.offsetHeight !== ROW_H) { ROW_H = r.offsetHeight; drawRows(true); }
      }
    }
  }

  var scrollQueued = false;
  wrap.addEventListener('scroll', function () {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(function () { scrollQueued = false; drawRows(false); });
  }, { passive: true });
  window.addEventListener('resize', function () { drawRows(true); });

  function revealRow(n) {
    var i = view.indexOf(n);
    if (i < 0 || !wrap.clientHeight) return;
    var y = i * ROW_H, head = fthead.offsetHeight, st = wrap.scrollTop, h = wrap.clientHeight - head;
    if (y < st) wrap.scrollTop = y;
    else if (y + ROW_H > st + h) wrap.scrollTop = y + ROW_H - h;
    drawRows(true);
  }

  function setSelected(n) {
    selected = n;
    var old = fbody.querySelector('tr.file-row.selected');
    if (old) old.classList.remove('selected');
    var tr = fbody.querySelector('tr.file-row[data-n="' + n + '"]');
    if (tr) tr.classList.add('selected');
  }

  var searchTimer = 0;
  $('file-search').addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      query = $('file-search').value.trim().toLowerCase();
      refilter();
    }, 60);
  });
  $('file-level').addEventListener('change', function () { levelFilter = $('file-level').value; markLevel(); refilter(); });
  function markLevel() {
    $('levels').querySelectorAll('.level-badge').forEach(function (b) {
      b.classList.toggle('active', b.getAttribute('data-level') === levelFilter);
    });
  }
  $('levels').addEventListener('click', function (e) {
    var b = e.target.closest('.level-badge');
    if (!b) return;
    var name = b.getAttribute('data-level');
    levelFilter = levelFilter === name ? '' : name;
    $('file-level').value = levelFilter;
    markLevel();
    refilter();
  });
  fthead.addEventListener('click', function (e) {
    var th = e.target.closest('th[data-sort]');
    if (!th) return;
    var k = th.getAttribute('data-sort');
    if (k === sortKey) sortDir = -sortDir; else { sortKey = k; sortDir = 1; }
    fthead.querySelectorAll('th[data-sort]').forEach(function (t) {
      var on = t.getAttribute('data-sort') === sortKey;
      t.classList.toggle('sort-asc', on && sortDir === 1);
      t.classList.toggle('sort-desc', on && sortDir === -1);
      if (on) t.setAttribute('aria-sort', sortDir === 1 ? 'ascending' : 'descending'); else t.removeAttribute('aria-sort');
    });
    resort();
    refilter();
  });
  fbody.addEventListener('click', function (e) {
    var tr = e.target.closest('tr.file-row');
    if (tr) openFile(+tr.getAttribute('data-n'), 0);
  });

  // ---------- directory tree ----------
  var treeNodes = [];
  function newDir(name, full) { return { name: name, full: full, dirs: new Map(), files: [], st: 0, cv: 0, count: 0, id: -1, ul: null }; }
  var root = newDir('', '');
  files.forEach(function (f) {
    var parts = f.path.split('/');
    var node = root;
    node.st += f.statements; node.cv += f.covered; node.count++;
    for (var k = 0; k < parts.length - 1; k++) {
      var c = node.dirs.get(parts[k]);
      if (!c) { c = newDir(parts[k], node.full ? node.full + '/' + parts[k] : parts[k]); node.dirs.set(parts[k], c); }
      node = c;
      node.st += f.statements; node.cv += f.covered; node.count++;
    }
    node.files.push(f.n);
  });
  // Chains of directories holding a single directory and no files show as one entry.
  function compressed(d) {
    while (d.files.length === 0 && d.dirs.size === 1) {
      var only = d.dirs.values().next().value;
      d = { name: d.name ? d.name + '/' + only.name : only.name, full: only.full, dirs: only.dirs, files: only.files, st: only.st, cv: only.cv,
        count: only.count, id: -1, ul: null };
    }
    return d;
  }
  function dirItem(d) {
    d.id = treeNodes.length;
    treeNodes.push(d);
    var p = pctOf(d.cv, d.st);
    return '<li class="tree-dir"><div class="tree-item" data-t="' + d.id + '" data-dir="' + esc(d.full) + '" title="' + esc(d.full + '/') + '\n' +
      fmtInt(d.cv) + ' / ' + fmtInt(d.st) + ' statements · ' + d.count + ' files"><button type="button" class="tree-toggle" aria-label="Expand">▸</button>' +
      '<span class="tree-name">' + esc(d.name) + '/</span><span class="tree-pct">' + fmtPct(p) + '</span>' + bar(p, 'tree-bar') + '</div></li>';
  }
  function childrenHtml(d) {
    var h = '';
    Array.from(d.dirs.keys()).sort().forEach(function (k) { h += dirItem(compressed(d.dirs.get(k))); });
    d.files.forEach(function (n) {
      var f = files[n];
      h += '<li class="tree-file"><div class="tree-item" data-n="' + n + '" title="' + esc(f.path) + '"><span class="tree-toggle"></span>' +
        '<span class="tree-name">' + esc(f.path.slice(f.path.lastIndexOf('/') + 1)) + '</span><span class="tree-pct">' + fmtPct(f.pct) + '</span>' +
        bar(f.pct, 'tree-bar') + '</div></li>';
    });
    return '<ul>' + h + '</ul>';
  }
  function expandDir(item, open) {
    var d = treeNodes[+item.getAttribute('data-t')];
    var li = item.parentNode;
    if (open && !d.ul) { li.insertAdjacentHTML('beforeend', childrenHtml(d)); d.ul = li.lastElementChild; }
    if (d.ul) d.ul.hidden = !open;
    item.classList.toggle('open', open);
    var t = item.querySelector('.tree-toggle');
    t.textContent = open ? '▾' : '▸';
    t.setAttribute('aria-label', open ? 'Collapse' : 'Expand');
  }
  (function drawTree() {
    var top = compressed(root);
    var p = pctOf(root.st ? root.cv : 0, root.st);
    var h = '<ul><li><div class="tree-item tree-all active" data-dir=""><span class="tree-toggle"></span><span class="tree-name">All files</span>' +
      '<span class="tree-pct">' + fmtPct(p) + '</span>' + bar(p, 'tree-bar') + '</div></li></ul>';
    $('tree').innerHTML = h + (top === root ? childrenHtml(root) : '<ul>' + dirItem(top) + '</ul>');
    var first = $('tree').querySelector('.tree-dir > .tree-item');
    if (top !== root && first) expandDir(first, true);
  })();
  function setDir(dir) {
    dirFilter = dir ? dir + '/' : '';
    $('tree').querySelectorAll('.tree-item.active').forEach(function (x) { x.classList.remove('active'); });
    var sel = $('tree').querySelectorAll('.tree-item[data-dir]');
    for (var i = 0; i < sel.length; i++) if (sel[i].getAttribute('data-dir') === dir) { sel[i].classList.add('active'); break; }
    $('files-dir').innerHTML = dir ? '<span class="dir-chip" title="' + esc(dirFilter) + '"><span>in ' + esc(dirFilter) +
      '</span><button type="button" aria-label="Show all directories">×</button></span>' : '';
    refilter();
  }
  $('files-dir').addEventListener('click', function (e) { if (e.target.closest('button')) setDir(''); });
  $('tree').addEventListener('click', function (e) {
    var item = e.target.closest('.tree-item');
    if (!item) return;
    if (item.hasAttribute('data-n')) { openFile(+item.getAttribute('data-n'), 0); return; }
    if (item.hasAttribute('data-t')) {
      var isToggle = !!e.target.closest('.tree-toggle');
      var open = item.classList.contains('open');
      if (isToggle) { expandDir(item, !open); return; }
      if (!open) expandDir(item, true);
    }
    setDir(item.getAttribute('data-dir'));
  });

  // ---------- syntax highlighters: Go, Python, C/C++, Rust (by file extension) ----------
  function words(w) { return new Set(w.split(' ')); }
  var LANGS = {
    go: { line: '//', block: true, raw: '`',
      kw: words('break case chan const continue default defer else fallthrough for func go goto if import interface map ' +
        'package range return select struct switch type var'),
      types: words('any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string ' +
        'uint uint8 uint16 uint32 uint64 uintptr true false nil iota append cap clear close complex copy delete imag len make max min ' +
        'new panic print println real recover') },
    python: { line: '#', block: false, triple: true,
      kw: words('and as assert async await break class continue def del elif else except finally for from global if import ' +
        'in is lambda nonlocal not or pass raise return try while with yield match case'),
      types: words('True False None self cls bool bytes dict float frozenset int list object set str tuple type len print range ' +
        'isinstance super Exception ValueError TypeError KeyError') },
    c: { line: '//', block: true, hash: true,
      kw: words('auto break case catch class const constexpr continue default delete do else enum explicit extern for friend goto if ' +
        'inline namespace new noexcept operator private protected public register return sizeof static static_assert struct switch ' +
        'template this throw try typedef typename union using virtual volatile while #include #define #if #ifdef #ifndef #else #endif ' +
        '#elif #pragma #undef'),
      types: words('bool char double float int long short signed unsigned void size_t int8_t int16_t int32_t int64_t uint8_t ' +
        'uint16_t uint32_t uint64_t true false nullptr NULL std string vector') },
    rust: { line: '//', block: true, rustChar: true,
      kw: words('as async await break const continue crate dyn else enum extern fn for if impl in let loop match mod move mut pub ' +
        'ref return self Self static struct super trait type unsafe use where while'),
      types: words('bool char f32 f64 i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize str String Vec Option Result Box Some None ' +
        'Ok Err true false') }
  };
  function langOf(path) {
    var m = /\.([A-Za-z0-9+]+)$/.exec(path || ''), e = m ? m[1].toLowerCase() : '';
    if (e === 'go') return LANGS.go;
    if (e === 'py' || e === 'pyi' || e === 'pyw') return LANGS.python;
    if (e === 'rs') return LANGS.rust;
    if (/^(c|h|cc|cpp|cxx|c\+\+|hh|hpp|hxx|ipp|inl|m|mm|cu)$/.test(e)) return LANGS.c;
    return null;
  }
  var NUM_RE = /0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?i?|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?[a-zA-Z0-9_]*/y;
  function isDigit(c) { return c >= 48 && c <= 57; }
  function isIdStart(c) { return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 0x80; }
  function isIdPart(c) { return isIdStart(c) || isDigit(c); }
  var CLOSERS = [null, '*/', '`', '"""', "'''"];

  // Tokens of one line as [start, end, class] (UTF-16 indices), for st.lang (unknown
  // language: no tokens). st.m carries what is still open at the end of the line:
  // 1 block comment, 2 Go raw string, 3 and 4 Python triple-quoted strings.
  function tokenize(s, st) {
    var out = [], i = 0, n = s.length, j, c, L = st.lang;
    if (!L) return out;
    var close = CLOSERS[st.m || 0];
    if (close) {
      j = s.indexOf(close);
      var cls = st.m === 1 ? 'tok-com' : 'tok-str';
      if (j < 0) { if (n) out.push([0, n, cls]); return out; }
      out.push([0, j + close.length, cls]); i = j + close.length; st.m = 0;
    }
    var lc0 = L.line.charCodeAt(0), lc1 = L.line.length > 1 ? L.line.charCodeAt(1) : -1;
    while (i < n) {
      c = s.charCodeAt(i);
      if (c === lc0 && (lc1 < 0 || s.charCodeAt(i + 1) === lc1)) { out.push([i, n, 'tok-com']); break; }
      if (L.block && c === 47 && s.charCodeAt(i + 1) === 42) {
        j = s.indexOf('*/', i + 2);
        if (j < 0) { out.push([i, n, 'tok-com']); st.m = 1; break; }
        out.push([i, j + 2, 'tok-com']); i = j + 2; continue;
      }
      if (L.triple && (c === 34 || c === 39) && s.charCodeAt(i + 1) === c && s.charCodeAt(i + 2) === c) {
        j = s.indexOf(s.slice(i, i + 3), i + 3);
        if (j < 0) { out.push([i, n, 'tok-str']); st.m = c === 34 ? 3 : 4; break; }
        out.push([i, j + 3, 'tok-str']); i = j + 3; continue;
      }
      if (c === 39 && L.rustChar && !(s.charCodeAt(i + 1) === 92 || s.charCodeAt(i + 2) === 39)) {
        // A lifetime or a label ('a), not a char literal.
        j = i + 1;
        while (j < n && isIdPart(s.charCodeAt(j))) j++;
        i = j; continue;
      }
      if (c === 34 || c === 39) {
        j = i + 1;
        while (j < n) {
          var d = s.charCodeAt(j);
          if (d === 92) j += 2;
          else { j++; if (d === c) break; }
        }
        if (j > n) j = n;
        out.push([i, j, 'tok-str']); i = j; continue;
      }
      if (L.raw && c === 96) {
        j = s.indexOf('`', i + 1);
        if (j < 0) { out.push([i, n, 'tok-str']); st.m = 2; break; }
        out.push([i, j + 1, 'tok-str']); i = j + 1; continue;
      }
      if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(i + 1)))) {
        NUM_RE.lastIndex = i;
        var m = NUM_RE.exec(s);
        j = m && m[0].length ? i + m[0].length : i + 1;
        out.push([i, j, 'tok-num']); i = j; continue;
      }
      if (isIdStart(c) || (c === 35 && L.hash)) {
        j = i + 1;
        while (j < n && isIdPart(s.charCodeAt(j))) j++;
        var w = s.slice(i, j);
        if (L.kw.has(w)) out.push([i, j, 'tok-kw']);
        else if (L.types.has(w)) out.push([i, j, 'tok-type']);
        i = j; continue;
      }
      i++;
    }
    return out;
  }

  // ---------- annotation ----------
  // Byte offset (0-based) -> UTF-16 index, for lines with non-ASCII characters.
  function byteStarts(s) {
    var a = new Array(s.length + 1), b = 0;
    for (var i = 0; i < s.length; i++) {
      a[i] = b;
      var c = s.charCodeAt(i);
      if (c < 0x80) b += 1;
      else if (c < 0x800) b += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { a[++i] = b; b += 4; }
      else b += 3;
    }
    a[s.length] = b;
    return a;
  }
  function byteToIdx(starts, x) {
    var lo = 0, hi = starts.length - 1;
    if (x >= starts[hi]) return hi;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (starts[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
  var ASCII_RE = /^[\x00-\x7f]*$/;

  // Coverage intervals of one line as [start, end, class] in UTF-16 indices, non-overlapping
  // and sorted. Where blocks overlap, the highest count wins.
  function covRuns(s, segs) {
    var len = s.length, conv = null, i;
    if (!ASCII_RE.test(s)) conv = byteStarts(s);
    var iv = [];
    for (i = 0; i < segs.length; i++) {
      var a = segs[i][0], b = segs[i][1];
      a = conv ? byteToIdx(conv, a) : Math.min(a, len);
      b = b === Infinity ? len : conv ? byteToIdx(conv, b) : Math.min(b, len);
      if (b > a) iv.push([a, b, segs[i][2]]);
    }
    if (iv.length <= 1) return iv.length ? [[iv[0][0], iv[0][1], iv[0][2] > 0 ? 'cov-hit' : 'cov-none']] : iv;
    var pts = [];
    iv.forEach(function (x) { pts.push(x[0], x[1]); });
    pts.sort(function (x, y) { return x - y; });
    var out = [];
    for (i = 0; i + 1 < pts.length; i++) {
      var lo = pts[i], hi = pts[i + 1];
      if (hi === lo) continue;
      var best = -1;
      for (var k = 0; k < iv.length; k++) if (iv[k][0] <= lo && iv[k][1] >= hi && iv[k][2] > best) best = iv[k][2];
      if (best < 0) continue;
      var cls = best > 0 ? 'cov-hit' : 'cov-none';
      var prev = out[out.length - 1];
      if (prev && prev[1] === lo && prev[2] === cls) prev[1] = hi; else out.push([lo, hi, cls]);
    }
    return out;
  }

  // HTML of s[a, b) with syntax tokens (tp.i is a cursor into the sorted token list).
  function tokHtml(s, a, b, toks, tp) {
    var h = '', pos = a;
    while (tp.i < toks.length && toks[tp.i][1] <= a) tp.i++;
    for (var k = tp.i; k < toks.length && toks[k][0] < b; k++) {
      var t0 = Math.max(toks[k][0], a), t1 = Math.min(toks[k][1], b);
      if (t0 > pos) h += escText(s.slice(pos, t0));
      h += '<span class="' + toks[k][2] + '">' + escText(s.slice(t0, t1)) + '</span>';
      pos = t1;
    }
    if (pos < b) h += escText(s.slice(pos, b));
    return h;
  }

  function lineHtml(s, segs, st) {
    var toks = tokenize(s, st);
    if (!segs || !segs.length) return toks.length ? tokHtml(s, 0, s.length, toks, { i: 0 }) : escText(s);
    var runs = covRuns(s, segs), tp = { i: 0 }, h = '', pos = 0;
    for (var r = 0; r < runs.length; r++) {
      if (runs[r][0] > pos) h += tokHtml(s, pos, runs[r][0], toks, tp);
      h += '<span class="' + runs[r][2] + '">' + tokHtml(s, runs[r][0], runs[r][1], toks, tp) + '</span>';
      pos = runs[r][1];
    }
    if (pos < s.length) h += tokHtml(s, pos, s.length, toks, tp);
    return h;
  }

  function execCell(v) {
    return v < 0 ? '<td class="exec"></td>' : v === 0 ? '<td class="exec exec-zero">0</td>' : '<td class="exec exec-hit">' + v + '</td>';
  }

  // The viewer's rows go in tbody chunks of CHUNK lines. The chunk holding the target line
  // is drawn at once, the others in later tasks (a 20,000-line file is readable at once);
  // until drawn, a chunk is an empty tbody of the exact height (every row is one line of
  // LINE_PX), so scroll positions hold. Drawn chunks far from the viewport are skipped by
  // layout (content-visibility).
  var CHUNK = 400, LINE_PX = 18;

  // Everything the viewer needs about file n, with rows drawn on demand by chunk.
  function prepare(n, d) {
    var blocks = d.blocks || [], path = files[n].path, href = '#' + encPath(path) + ':L';
    var miss = new Set(), i, b, L;
    for (i = 0; i < blocks.length; i++) if (cnt(blocks[i]) === 0 && blocks[i][0] >= 1) miss.add(blocks[i][0]);
    var m = { miss: Array.from(miss).sort(function (x, y) { return x - y; }), rows: null, lines: null, count: 0, head: '' };

    if (d.text == null) {
      // No source: one row per line where a block starts, with the blocks described.
      var starts = new Map(), maxL = 0;
      for (i = 0; i < blocks.length; i++) {
        b = blocks[i];
        if (!starts.has(b[0])) starts.set(b[0], []);
        starts.get(b[0]).push(b);
        if (b[2] > maxL) maxL = b[2];
      }
      var ex = new Float64Array(maxL + 2).fill(-1), exMask = new Int32Array(maxL + 2);
      for (i = 0; i < blocks.length; i++) {
        b = blocks[i];
        for (L = Math.max(1, b[0]); L <= b[2]; L++) { if (cnt(b) > ex[L]) ex[L] = cnt(b); exMask[L] |= b[6] | 0; }
      }
      m.lines = Array.from(starts.keys()).filter(function (x) { return x >= 1; }).sort(function (x, y) { return x - y; });
      m.rows = m.lines.map(function (line) {
        var desc = starts.get(line).map(function (x) {
          return '<span class="' + (cnt(x) > 0 ? 'cov-hit' : 'cov-none') + '">' + x[0] + ':' + x[1] + '–' + x[2] + ':' + x[3] + ' · ' +
            x[4] + ' statement' + (x[4] === 1 ? '' : 's') + ' · count ' + cnt(x) + '</span>';
        }).join('  ');
        return '<tr id="L' + line + '">' + lnCell(href, line, exMask[line]) + execCell(ex[line]) +
          '<td class="src block-desc">' + desc + '</td></tr>';
      });
      m.count = m.rows.length;
      m.head = '<div class="no-source">No source for this file: ' + esc(files[n].note || 'the source was not found') +
        '. Listed below: the lines where its ' + blocks.length + ' blocks start, with their counts.</div>';
      m.chunkOf = function (line) {
        for (var j = 0; j < m.lines.length; j++) if (m.lines[j] >= line) return (j / CHUNK) | 0;
        return -1;
      };
      m.chunkHtml = function (k) { return m.rows.slice(k * CHUNK, (k + 1) * CHUNK).join(''); };
      return m;
    }

    var lang = langOf(path);
    var lines = d.text.split('\n');
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    var nl = lines.length;
    var exec = new Float64Array(nl + 2).fill(-1), execMask = new Int32Array(nl + 2);
    var segs = new Array(nl + 2);
    for (i = 0; i < blocks.length; i++) {
      b = blocks[i];
      var sl = Math.max(1, b[0]), el = Math.min(b[2], nl), c = cnt(b);
      for (L = sl; L <= el; L++) {
        if (c > exec[L]) exec[L] = c;
        execMask[L] |= b[6] | 0;
        var s0 = L === b[0] ? b[1] - 1 : 0, e0 = L === b[2] && b[3] > 0 ? b[3] - 1 : Infinity;
        if (e0 > s0) (segs[L] || (segs[L] = [])).push([s0, e0, c]);
      }
    }
    function line(i) { var s = lines[i]; return s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s; }
    // Highlighter state (open block comment / raw string) at the start of each chunk.
    var states = [0];
    function stateAt(k) {
      var j = k;
      while (states[j] === undefined) j--;
      for (; j < k; j++) {
        var st = { m: states[j], lang: lang };
        for (var i = j * CHUNK; i < Math.min(nl, (j + 1) * CHUNK); i++) tokenize(line(i), st);
        states[j + 1] = st.m;
      }
      return { m: states[k], lang: lang };
    }
    m.count = nl;
    m.chunkOf = function (ln) { return ln >= 1 && ln <= nl ? ((ln - 1) / CHUNK) | 0 : -1; };
    m.chunkHtml = function (k) {
      var st = stateAt(k), out = [];
      for (var i = k * CHUNK; i < Math.min(nl, (k + 1) * CHUNK); i++) {
        var L = i + 1;
        out.push('<tr id="L' + L + '">' + lnCell(href, L, execMask[L]) + execCell(exec[L]) +
          '<td class="src">' + lineHtml(line(i), segs[L], st) + '</td></tr>');
      }
      if (states[k + 1] === undefined) states[k + 1] = st.m;
      return out.join('');
    };
    if (files[n].source === 'mismatch') m.head = '<div class="no-source">This source may not match the binary: ' + esc(files[n].note || 'mismatch') + '</div>';
    return m;
  }

  // ---------- source viewer ----------
  var mode = 'list';
  var cache = new Map(), CACHE_MAX = 12;
  var want = -1;        // file being shown or loading
  var loading = -1;     // file whose script is in flight
  var cur = null;       // {n, lines, miss} once drawn
  var target = 0;       // highlighted line, 0 = none
  var codeWrap = $('code-wrap'), code = $('code');

  function encPath(p) {
    return encodeURIComponent(p).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/g, '@');
  }
  function setHash() {
    var h = want >= 0 && mode !== 'list' ? '#' + encPath(files[want].path) + (target ? ':L' + target : '') : '';
    if (location.hash === h || (!h && !location.hash)) return;
    try { history.replaceState(null, '', h || location.pathname + location.search); } catch (e) { /* opaque origins */ }
  }
  function parseHash() {
    var h = location.hash.slice(1);
    if (!h) return null;
    try { h = decodeURIComponent(h); } catch (e) { /* keep raw */ }
    if (pathIndex.has(h)) return { n: pathIndex.get(h), line: 0 };
    var m = /^(.*):L(\d+)$/.exec(h);
    if (m && pathIndex.has(m[1])) return { n: pathIndex.get(m[1]), line: +m[2] };
    return null;
  }

  function setMode(m) {
    mode = m;
    document.body.classList.remove('mode-list', 'mode-source', 'mode-split');
    document.body.classList.add('mode-' + m);
    $('btn-split').textContent = m === 'split' ? 'Hide file list' : 'Show file list';
    if (m !== 'source') { lastRange = ''; drawRows(true); if (selected >= 0) revealRow(selected); }
  }

  window.livecovFile = function (n, d) {
    // A chunk from another rendering of this page (left open while the site was
    // re-rendered, or cached): its numbering may differ, so it is not trusted.
    if (!files[n] || (d && d.path !== files[n].path)) {
      if (n === want) code.innerHTML = '<div class="source-status">This page was rendered again since it was opened: reload it.</div>';
      return;
    }
    cache.set(n, d);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
    if (n === want && (!cur || cur.n !== n)) drawFile(n, d);
  };

  function loadFile(n) {
    if (cache.has(n)) { drawFile(n, cache.get(n)); return; }
    code.innerHTML = '<div class="source-status">Loading ' + esc(files[n].path) + '…</div>';
    var s = document.createElement('script');
    // Files come packed in chunks (SITE.md): f/<chunk>.js calls livecovFile once per file.
    var chunk = files[n].chunk != null ? files[n].chunk : n;
    s.src = 'f/' + chunk + '.js';
    loading = n;
    s.onload = function () { s.remove(); if (loading === n) loading = -1; };
    s.onerror = function () {
      s.remove();
      if (loading === n) loading = -1;
      if (want === n) code.innerHTML = '<div class="source-status">Could not load f/' + chunk + '.js (the page folder may be incomplete).</div>';
    };
    document.head.appendChild(s);
  }

  function drawFile(n, d) {
    var m = prepare(n, d);
    var nc = Math.ceil(m.count / CHUNK), h = [];
    for (var k = 0; k < nc; k++) {
      h.push('<tbody class="pending" style="height:' + Math.min(CHUNK, m.count - k * CHUNK) * LINE_PX + 'px"></tbody>');
    }
    code.innerHTML = m.head + '<table class="code" id="code-table">' + h.join('') + '</table>';
    cur = { n: n, m: m, bodies: code.querySelectorAll('#code-table > tbody'), drawn: new Array(nc), left: nc, gen: ++drawGen };
    var f = files[n];
    var meta = [];
    if (d.origin) meta.push('Source: ' + d.origin);
    meta.push(m.miss.length + ' not-covered block line' + (m.miss.length === 1 ? '' : 's'));
    $('source-meta').textContent = meta.join(' · ') + (f.source !== 'ok' && f.note ? ' · ' + f.note : '');
    codeWrap.scrollTop = 0;
    codeWrap.scrollLeft = 0;
    var first = target ? Math.max(0, m.chunkOf(target)) : 0;
    fillChunk(first);
    if (first + 1 < nc) fillChunk(first + 1);
    sourceIntoView();
    showTarget(true);
    // The rest, nearest first, a few chunks per task.
    var order = [];
    for (k = 0; k < nc; k++) if (!cur.drawn[k]) order.push(k);
    order.sort(function (x, y) { return Math.abs(x - first) - Math.abs(y - first); });
    var c = cur;
    (function more() {
      if (cur !== c) return;
      var t0 = Date.now();
      while (order.length && Date.now() - t0 < 30) fillChunk(order.shift());
      if (order.length) setTimeout(more, 0);
      else window.livecovFileReady = n;
    })();
  }
  var drawGen = 0;

  function fillChunk(k) {
    if (!cur || k < 0 || k >= cur.drawn.length || cur.drawn[k]) return;
    var tb = cur.bodies[k];
    tb.innerHTML = cur.m.chunkHtml(k);
    tb.className = '';
    tb.style.height = '';
    tb.style.containIntrinsicHeight = 'auto ' + tb.rows.length * LINE_PX + 'px';
    cur.drawn[k] = true;
    cur.left--;
  }

  // The viewer has its own scroll box; put its top at the top of the window.
  function sourceIntoView() {
    var top = $('source').getBoundingClientRect().top;
    if (Math.abs(top - 8) > 2) window.scrollTo(0, Math.max(0, top + window.pageYOffset - 8));
  }

  // The row of a line, drawing its chunk first if needed. In the no-source view, the
  // nearest listed line at or after the asked one.
  function rowFor(line) {
    if (!cur) return null;
    var k = cur.m.chunkOf(line);
    if (k < 0) return null;
    fillChunk(k);
    if (!cur.m.lines) return document.getElementById('L' + line);
    for (var i = 0; i < cur.m.lines.length; i++) if (cur.m.lines[i] >= line) return document.getElementById('L' + cur.m.lines[i]);
    return null;
  }

  function showTarget(scroll) {
    var old = code.querySelector('tr.target');
    if (old) old.classList.remove('target');
    if (!target || !cur) return;
    var tr = rowFor(target);
    if (!tr) return;
    tr.classList.add('target');
    if (scroll) {
      var y = tr.getBoundingClientRect().top - codeWrap.getBoundingClientRect().top + codeWrap.scrollTop;
      codeWrap.scrollTop = Math.max(0, y - codeWrap.clientHeight / 3);
    }
  }

  function setTarget(line, scroll) {
    target = line;
    showTarget(scroll);
    setHash();
  }

  function openFile(n, line) {
    if (!(n >= 0 && n < files.length)) return;
    if (mode === 'list') setMode('source');
    target = line || 0;
    setSelected(n);
    if (mode === 'split') revealRow(n);
    var f = files[n];
    $('source-path').textContent = f.path;
    $('source-pct').innerHTML = pill(f.pct) + ' <span class="muted">' + fmtInt(f.covered) + ' / ' + fmtInt(f.statements) + ' statements</span>' +
      (f.source === 'ok' ? '' : '<span class="tag tag-' + esc(f.source) + '">' + (f.source === 'missing' ? 'no source' : esc(f.source)) + '</span>');
    if (cur && cur.n === n && want === n) { sourceIntoView(); setTarget(target, true); return; }
    if (want === n && loading === n) { setHash(); return; } // drawFile will show the target
    want = n;
    cur = null;
    setHash();
    loadFile(n);
  }

  function backToList() {
    setMode('list');
    setHash();
  }

  function stepMiss(dir) {
    if (!cur || mode === 'list' || !cur.m.miss.length) return;
    var m = cur.m.miss, line = 0, i;
    if (dir > 0) { for (i = 0; i < m.length; i++) if (m[i] > target) { line = m[i]; break; } }
    else { for (i = m.length - 1; i >= 0; i--) if (m[i] < target) { line = m[i]; break; } }
    if (line) setTarget(line, true);
  }

  function stepFile(dir) {
    if (!view.length) return;
    var base = mode === 'list' ? -1 : want;
    var i = base >= 0 ? view.indexOf(base) : -1;
    i = i < 0 ? (dir > 0 ? 0 : view.length - 1) : i + dir;
    if (i < 0 || i >= view.length) return;
    openFile(view[i], 0);
  }

  $('btn-back').addEventListener('click', backToList);
  $('btn-split').addEventListener('click', function () { setMode(mode === 'split' ? 'source' : 'split'); });
  $('btn-next-file').addEventListener('click', function () { stepFile(1); });
  $('btn-prev-file').addEventListener('click', function () { stepFile(-1); });
  $('btn-next-miss').addEventListener('click', function () { stepMiss(1); });
  $('btn-prev-miss').addEventListener('click', function () { stepMiss(-1); });
  code.addEventListener('click', function (e) {
    var a = e.target.closest('td.ln a');
    if (!a) return;
    e.preventDefault();
    setTarget(+a.textContent, false);
  });

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape') {
      if (isTyping()) document.activeElement.blur();
      if (mode !== 'list') { e.preventDefault(); backToList(); }
      return;
    }
    if (isTyping()) return;
    switch (e.key) {
      case 'n': stepMiss(1); break;
      case 'p': stepMiss(-1); break;
      case ']': stepFile(1); break;
      case '[': stepFile(-1); break;
      case '/':
        if (mode === 'source') setMode('split');
        $('file-search').focus();
        $('file-search').select();
        break;
      default: return;
    }
    e.preventDefault();
  });

  function fromHash() {
    var h = parseHash();
    if (h) openFile(h.n, h.line);
    else if (!location.hash && mode !== 'list') setMode('list');
  }
  window.addEventListener('hashchange', fromHash);

  // ---------- first draw ----------
  refilter();
  window.livecovReady = true;
  if (window.performance && performance.mark) performance.mark('livecov-ready');
  fromHash();
})();
