// The shop page: plain DOM and fetch, no framework. Everything the page shows comes from /api/*.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const money = (cents) => (cents / 100).toFixed(2);
  const palette = ['#2f6fdf', '#7c3aed', '#0f766e', '#c2410c', '#be185d', '#4d7c0f'];
  let pinned = null;

  function colourFor(id) {
    let h = 0;
    for (const c of id || '') { h = (h * 31 + c.charCodeAt(0)) >>> 0; }
    const n = /(\d+)$/.exec(id || '');
    return palette[(n ? parseInt(n[1], 10) - 1 : h) % palette.length];
  }

  async function call(method, url, body) {
    const options = { method, headers: {}, credentials: 'same-origin' };
    if (body) {
      options.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      options.body = new URLSearchParams(body).toString();
    }
    const response = await fetch(url, options);
    if (!response.ok) { throw new Error(method + ' ' + url + ': ' + response.status); }
    return response.json();
  }

  function showError(e) {
    $('error').hidden = false;
    $('error').textContent = String(e.message || e);
  }

  function renderProducts(products) {
    const grid = $('products');
    grid.textContent = '';
    for (const p of products) {
      const card = document.createElement('article');
      card.className = 'product';
      card.dataset.sku = p.sku;
      card.innerHTML = '<div class="tile"></div><div class="body"><div class="name"></div>' +
        '<div class="blurb"></div><div class="row"><span class="price"></span>' +
        '<button type="button" class="add">Add to cart</button></div></div>';
      card.querySelector('.tile').textContent = p.mark;
      card.querySelector('.tile').style.background = 'linear-gradient(135deg, ' + p.colour + ', ' + p.colour + 'b0)';
      card.querySelector('.name').textContent = p.name;
      card.querySelector('.blurb').textContent = p.blurb;
      card.querySelector('.price').textContent = money(p.priceCents);
      card.querySelector('.add').addEventListener('click', () => change({ action: 'add', sku: p.sku }));
      grid.appendChild(card);
    }
  }

  function renderCart(cart) {
    pinned = cart.pinnedTarget;
    const banner = $('banner');
    banner.dataset.target = cart.target;
    banner.style.setProperty('--target-colour', colourFor(cart.target));
    $('served-by').textContent = cart.target;
    $('pinned-to').textContent = cart.pinnedTarget || 'not pinned';
    $('session-mode').textContent = cart.sessionMode;
    $('failover').hidden = !cart.failedOverFrom;
    $('failed-over-from').textContent = cart.failedOverFrom || '';
    $('failover-outcome').textContent = cart.sessionMode === 'container'
      ? 'the container kept your session there (session mode container).'
      : 'your cart came along.';
    $('cart-count').textContent = cart.count;
    $('cart-total').textContent = money(cart.totalCents);
    $('cart-empty').hidden = cart.items.length > 0;
    const lines = $('cart-lines');
    lines.textContent = '';
    for (const item of cart.items) {
      const li = document.createElement('li');
      li.className = 'line';
      li.dataset.sku = item.sku;
      li.innerHTML = '<span><span class="swatch"></span><span class="what"></span><span class="qty"></span></span>' +
        '<span><span class="price"></span><button type="button" title="Remove one">&minus;</button></span>';
      li.querySelector('.swatch').style.background = item.colour;
      li.querySelector('.what').textContent = item.name;
      li.querySelector('.qty').textContent = '\u00d7 ' + item.quantity;
      li.querySelector('.price').textContent = money(item.priceCents * item.quantity);
      li.querySelector('button').addEventListener('click', () => change({ action: 'remove', sku: item.sku }));
      lines.appendChild(li);
    }
    document.body.dataset.cartCount = String(cart.count);
    renderDemoPinned();
  }

  async function change(form) {
    try {
      renderCart(await call('POST', 'api/cart', form));
    } catch (e) { showError(e); }
  }

  // Demo controls: only when the page is served through the Affinity demo, which adds these admin actions.
  let demoTargets = [];
  async function loadDemo() {
    try {
      const response = await fetch('/affinity/demo/targets', { credentials: 'same-origin' });
      if (!response.ok) { return; }
      demoTargets = (await response.json()).targets;
    } catch (e) { return; }
    $('demo').hidden = false;
    renderDemoPinned();
  }

  function renderDemoPinned() {
    const list = $('demo-targets');
    if ($('demo').hidden) { return; }
    list.textContent = '';
    for (const t of demoTargets) {
      const li = document.createElement('li');
      li.dataset.target = t.id;
      li.innerHTML = '<span><span class="dot"></span><b class="id"></b> <small class="kind"></small></span><span class="act"></span>';
      li.querySelector('.dot').classList.toggle('down', !t.running);
      li.querySelector('.id').textContent = t.id;
      li.querySelector('.kind').textContent = t.container;
      if (t.id === pinned) {
        const you = document.createElement('span');
        you.className = 'you';
        you.textContent = 'you';
        li.querySelector('.id').after(you);
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.className = t.running ? 'danger kill' : 'ghost restart';
      button.textContent = t.running ? 'Kill' : 'Restart';
      button.dataset.id = t.id;
      button.addEventListener('click', () => demoAction(t.id, t.running ? 'kill' : 'restart'));
      li.querySelector('.act').appendChild(button);
      list.appendChild(li);
    }
  }

  async function demoAction(id, action) {
    try {
      const response = await fetch('/affinity/demo/targets/' + encodeURIComponent(id) + '/' + action,
        { method: 'POST', headers: { 'X-Affinity-Admin': '1' }, credentials: 'same-origin' });
      if (!response.ok) { throw new Error(action + ' ' + id + ': ' + response.status); }
      demoTargets = (await response.json()).targets;
      renderDemoPinned();
      document.body.dataset.lastAction = action + ' ' + id;
    } catch (e) { showError(e); }
  }

  $('clear').addEventListener('click', () => change({ action: 'clear' }));

  async function start() {
    try {
      renderProducts(await call('GET', 'api/products'));
      renderCart(await call('GET', 'api/cart'));
      document.body.dataset.ready = 'true';
    } catch (e) { showError(e); }
    loadDemo();
  }
  start();
})();
