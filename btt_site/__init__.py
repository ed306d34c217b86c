"""The site: the web process's ASGI application (``asgi.py``), its WebSocket routes
(``routing.py``), its URLs (``urls.py``) and the health pages (``health.py``), composed from every
app. Nothing imports this package; it imports whichever app it serves."""
