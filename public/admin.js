// Live updates for the admin console: the server's event stream (/admin/events) tells of every
// revocation on every Vigil instance. Rows of ended sessions are removed, counts refreshed, and
// what happened is said in the page's live region (for screen readers too). No inline script.
(function () {
  'use strict';

  var source = document.body.dataset.events;
  if (!source || !window.EventSource) return;

  var status = document.getElementById('live-status');

  function say(message) {
    if (status) status.textContent = message;
  }

  /** Removes the rows of ended sessions; returns whose they were (the accounts' emails, once each). */
  function removeSessionRows(uids) {
    var whose = [];
    uids.forEach(function (uid) {
      document.querySelectorAll('tr[data-session-uid="' + CSS.escape(uid) + '"]').forEach(function (row) {
        // Keep keyboard focus on the page when the focused row goes away.
        if (row.contains(document.activeElement)) document.getElementById('main').focus();
        var email = row.dataset.accountEmail;
        if (email && whose.indexOf(email) < 0) whose.push(email);
        row.remove();
      });
    });
    document.querySelectorAll('[data-count="sessions"]').forEach(function (el) {
      el.textContent = String(document.querySelectorAll('table[data-live="sessions"] tbody tr').length);
    });
    document.querySelectorAll('table[data-live="sessions"]').forEach(function (table) {
      var empty = table.parentNode.querySelector('[data-empty="sessions"]');
      if (empty) empty.hidden = table.querySelectorAll('tbody tr').length > 0;
    });
    return whose;
  }

  function refreshOverview() {
    if (!document.querySelector('[data-live="overview"]')) return;
    fetch('/admin/overview.json', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (overview) {
        if (!overview) return;
        var values = { activeSessions: overview.activeSessions, revocations: overview.last24h.revocations };
        Object.keys(overview.last24h.decisions).forEach(function (k) { values['decision:' + k] = overview.last24h.decisions[k]; });
        Object.keys(overview.last24h.logouts).forEach(function (k) { values['logouts:' + k] = overview.last24h.logouts[k]; });
        Object.keys(overview.last24h.securityEvents || {}).forEach(function (k) { values['securityEvents:' + k] = overview.last24h.securityEvents[k]; });
        document.querySelectorAll('[data-metric]').forEach(function (el) {
          var value = values[el.dataset.metric];
          if (value !== undefined) el.textContent = String(value);
        });
      })
      .catch(function () { /* the next event or poll tries again */ });
  }

  var events = new EventSource(source);
  events.addEventListener('ready', function () { document.body.dataset.live = 'connected'; });
  events.addEventListener('revocation', function (message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    var sessions = event.sessions || [];
    var whose = removeSessionRows(sessions);
    if (sessions.length > 0) {
      // Whose: the accounts of the rows on this page, else the event's account id.
      var of = whose.length ? ' of ' + whose.join(', ') : (event.accountId ? ' of account ' + event.accountId : '');
      say(sessions.length + ' session(s)' + of + ' ended (' + event.kind + ', by ' + event.initiator + '): ' + event.reason);
    }
    refreshOverview();
  });
  events.addEventListener('signed-out', function () {
    events.close();
    say('Your console sign-in has ended. Reload the page to sign in again.');
  });
  // Risk decisions do not come through the stream: the overview's counts are polled.
  setInterval(refreshOverview, 30000);
})();
