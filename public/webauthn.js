// WebAuthn ceremonies for Vigil's pages. Buttons carry data-webauthn="authenticate|register",
// the URLs for options and verification, and the page's CSRF token. No inline script anywhere.
// What it says comes from data- attributes of the page's <main> (views/layout.njk), in the page's
// language; the fallbacks are for a page that does not extend the layout.
(function () {
  'use strict';

  function words() {
    const main = document.getElementById('main');
    const data = main ? main.dataset : {};
    return {
      unsupported: data.passkeyUnsupported || 'Passkeys are not supported here.',
      cancelled: data.passkeyCancelled || 'Cancelled.',
      failed: data.passkeyFailed || 'The passkey did not work.',
      serverStatus: data.passkeyServerStatus || 'Error {status}.',
    };
  }

  async function postJson(url, body, said) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      if (data.redirect) { window.location.assign(data.redirect); }
      throw new Error(data.error_description || said.serverStatus.replace('{status}', String(response.status)));
    }
    return data;
  }

  function say(button, message) {
    const status = document.getElementById(button.dataset.status || 'webauthn-status');
    if (!status) return;
    status.textContent = message;
    status.hidden = !message;
  }

  async function run(button) {
    const said = words();
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      say(button, said.unsupported);
      return;
    }
    const csrf = button.dataset.csrf;
    const register = button.dataset.webauthn === 'register';
    button.disabled = true;
    say(button, '');
    try {
      const options = await postJson(button.dataset.optionsUrl, { csrf: csrf }, said);
      const credential = register
        ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
        : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
      const nameInput = button.dataset.nameInput ? document.getElementById(button.dataset.nameInput) : null;
      const result = await postJson(button.dataset.verifyUrl, {
        csrf: csrf,
        response: credential.toJSON(),
        name: nameInput ? nameInput.value : undefined,
      }, said);
      if (result.redirect) window.location.assign(result.redirect);
      else window.location.reload();
    } catch (error) {
      const message = error && error.name === 'NotAllowedError'
        ? said.cancelled
        : (error && error.message) || said.failed;
      say(button, message);
      button.disabled = false;
    }
  }

  document.querySelectorAll('[data-webauthn]').forEach(function (button) {
    button.addEventListener('click', function () { run(button); });
  });
})();
