// Served by the app itself: the CSP must let it run (script-src 'self').
window.__sameOriginRan = true;
